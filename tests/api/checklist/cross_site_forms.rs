//! Checklist rows about the hosted forms as another site sees them: the redirect status
//! after POST /consent and POST /logout/confirm (A25), the Origin / Sec-Fetch-Site check
//! on every state-changing form, with a genuine CSRF token, changing nothing (E1), and a
//! hostile `state` or reflected error description rendered escaped (E3).

use super::*;
use crate::on_both_backends;
use serde_json::Value;

const EVIL_ORIGIN: &str = "https://evil.example";

/// The headers a browser sends when another site submits a form to us, and headers no
/// same-origin form of ours comes with. Each must be refused.
const CROSS_SITE: [(&str, &[(&str, &str)]); 5] = [
    ("Origin of another site", &[("origin", EVIL_ORIGIN)]),
    ("Sec-Fetch-Site: cross-site", &[("sec-fetch-site", "cross-site")]),
    ("Sec-Fetch-Site: same-site", &[("sec-fetch-site", "same-site")]),
    ("Origin: null without Sec-Fetch-Site", &[("origin", "null")]),
    (
        "Origin of another site, Sec-Fetch-Site: same-origin",
        &[("origin", EVIL_ORIGIN), ("sec-fetch-site", "same-origin")],
    ),
];

type Form<'a> = Vec<(&'a str, String)>;

/// The state of the database once the mail outbox has drained: every row of every table
/// (sessions by id only: a session's last-seen time may move on its own), and how many
/// mails were delivered.
async fn settled(app: &TestApp) -> (Vec<(String, String)>, Vec<String>, usize) {
    for _ in 0..100 {
        if app.store.pending_mail_count().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut rows: Vec<(String, String)> = every_row(&app.store)
        .await
        .into_iter()
        .filter(|(table, _)| table != "sessions")
        .collect();
    rows.sort();
    let mut sessions: Vec<String> = sqlx::query_as::<_, (String,)>("SELECT id FROM sessions")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(id,)| id)
        .collect();
    sessions.sort();
    (rows, sessions, app.mail.all().len())
}

/// POSTs `form` (with its genuine CSRF token) to `path` from `browser` as each cross-site
/// variant: every one is a 403 that redirects nowhere and changes nothing.
async fn refused_from_other_sites(app: &TestApp, browser: &Browser, path: &str, form: &Form<'_>) {
    let before = settled(app).await;
    for (case, headers) in CROSS_SITE {
        let mut request = browser.http.post(app.url(path)).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}, {case}");
        assert!(location(response.headers()).is_none(), "{path}, {case}: no redirect");
        assert!(
            settled(app).await == before,
            "{path}, {case}: the refused form changed something"
        );
    }
}

/// The same form as a browser submits it from our own page.
async fn from_our_page(app: &TestApp, browser: &Browser, path: &str, form: &Form<'_>) -> reqwest::Response {
    browser
        .http
        .post(app.url(path))
        .form(form)
        .header("origin", app.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap()
}

async fn account_csrf(browser: &Browser) -> String {
    let html = browser.get("/account").await.text().await.unwrap();
    hidden_input(&html, "csrf_token").expect("the account page's CSRF token")
}

async fn third_party(app: &TestApp, id: &str) -> TestClient {
    add_client(&app.store, id, true, 0, |c| {
        c.name = format!("Partner {id}");
        c.redirect_uris = vec!["https://partner.example.com/cb".into()];
        c.first_party = false;
    })
    .await
}

/// Signs in (if needed) through an authorization for `client`; the consent page's HTML.
async fn consent_page(app: &TestApp, browser: &Browser, client: &TestClient) -> String {
    let (url, _) = app.authorize_url(client, &[("scope", "openid email")]);
    let mut html = browser.follow(&url).await.text().await.unwrap();
    if html.contains("name=\"password\"") {
        let response = browser.submit_login(&html, "alice", PASSWORD).await;
        html = browser
            .follow(&location(response.headers()).unwrap())
            .await
            .text()
            .await
            .unwrap();
    }
    assert!(html.contains("name=\"decision\""), "expected the consent page: {html}");
    html
}

/// A redirect after a POSTed form: 303 or 302, which browsers follow with a GET; never
/// 307 or 308, which would re-POST the form (and its fields) to the target.
fn assert_get_redirect(response: &reqwest::Response, what: &str) -> String {
    let status = response.status().as_u16();
    assert!(status == 303 || status == 302, "{what}: {status}");
    location(response.headers()).unwrap_or_else(|| panic!("{what}: a Location"))
}

on_both_backends! {
    async fn a25_consent_and_logout_confirmation_redirect_with_303_or_302(app) {
        let browser = app.browser();
        // Allow.
        let partner = third_party(&app, "partner").await;
        let html = consent_page(&app, &browser, &partner).await;
        let form: Form = vec![
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("request_id", hidden_input(&html, "request_id").unwrap()),
            ("decision", "allow".into()),
        ];
        let response = browser.http.post(app.url("/consent")).form(&form).send().await.unwrap();
        let next = assert_get_redirect(&response, "POST /consent allow");
        let to = location(browser.follow(&next).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "{to}");
        // Deny.
        let other = third_party(&app, "partner2").await;
        let html = consent_page(&app, &browser, &other).await;
        let form: Form = vec![
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("request_id", hidden_input(&html, "request_id").unwrap()),
            ("decision", "deny".into()),
        ];
        let response = browser.http.post(app.url("/consent")).form(&form).send().await.unwrap();
        let to = assert_get_redirect(&response, "POST /consent deny");
        assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"), "{to}");

        // Logout confirmed on the page, back to a registered post-logout URI.
        add_client(&app.store, "rp", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.post_logout_redirect_uris = vec![PLRU.into()];
        }).await;
        let query = serde_urlencoded::to_string([("client_id", "rp"), ("post_logout_redirect_uri", PLRU), ("state", "s")]).unwrap();
        let html = browser.get(&format!("/logout?{query}")).await.text().await.unwrap();
        let form: Form = ["csrf_token", "client_id", "post_logout_redirect_uri", "state"]
            .into_iter()
            .map(|name| (name, hidden_input(&html, name).unwrap_or_else(|| panic!("{name} on the logout page"))))
            .collect();
        let response = browser.http.post(app.url("/logout/confirm")).form(&form).send().await.unwrap();
        let to = assert_get_redirect(&response, "POST /logout/confirm");
        assert_eq!(to, format!("{PLRU}?state=s"));
        // Without a return URI the answer is a page, not a redirect at all.
        let signed_in = signed_in_browser(&app, "alice", PASSWORD).await;
        let form: Form = vec![("csrf_token", account_csrf(&signed_in).await)];
        let response = signed_in.http.post(app.url("/logout/confirm")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn e1_anonymous_forms_from_another_site_are_refused_and_change_nothing(app) {
        let browser = app.browser();
        let html = browser.get("/signup").await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();

        let signup: Form = vec![
            ("csrf_token", csrf.clone()), ("given_name", "Carol".into()), ("family_name", "Example".into()),
            ("username", "carol".into()), ("email", "carol@example.com".into()),
            ("password", NEW_PASSWORD.into()), ("password_confirm", NEW_PASSWORD.into()),
        ];
        refused_from_other_sites(&app, &browser, "/signup", &signup).await;
        assert!(app.store.account_by_identifier("carol").await.unwrap().is_none());
        assert_eq!(from_our_page(&app, &browser, "/signup", &signup).await.status(), 200);
        nth_mail(&app, "carol@example.com", "Confirm your email", 1).await;

        let resend: Form = vec![("csrf_token", csrf.clone()), ("email", "carol@example.com".into())];
        refused_from_other_sites(&app, &browser, "/signup/resend", &resend).await;
        assert_eq!(from_our_page(&app, &browser, "/signup/resend", &resend).await.status(), 200);
        let link = nth_mail(&app, "carol@example.com", "Confirm your email", 2).await.link();

        // A resent link is bound to no browser, so its form also asks for the password.
        let page = browser.get(&link).await.text().await.unwrap();
        let confirm: Form = vec![
            ("csrf_token", hidden_input(&page, "csrf_token").unwrap()),
            ("token", hidden_input(&page, "token").unwrap()),
            ("password", NEW_PASSWORD.into()),
        ];
        refused_from_other_sites(&app, &browser, "/signup/confirm", &confirm).await;
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await, 403, "still unconfirmed");
        assert_eq!(from_our_page(&app, &browser, "/signup/confirm", &confirm).await.status(), 200);
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await, 303, "confirmed");

        let forgot: Form = vec![("csrf_token", csrf.clone()), ("identifier", "alice".into())];
        refused_from_other_sites(&app, &browser, "/forgot", &forgot).await;
        assert!(app.mail.all().iter().all(|m| !m.subject.contains("Reset your")), "no reset mail");
        assert_eq!(from_our_page(&app, &browser, "/forgot", &forgot).await.status(), 200);
        let link = nth_mail(&app, "alice@example.com", "Reset your", 1).await.link();

        assert_eq!(browser.get(&link).await.status(), 302, "the token moves into the reset cookie");
        let page = browser.get("/reset").await.text().await.unwrap();
        let fresh = "a brand new reset passphrase";
        let reset: Form = vec![
            ("csrf_token", hidden_input(&page, "csrf_token").unwrap()),
            ("password", fresh.into()), ("password_confirm", fresh.into()),
        ];
        refused_from_other_sites(&app, &browser, "/reset", &reset).await;
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303, "the password is unchanged");
        assert_eq!(from_our_page(&app, &browser, "/reset", &reset).await.status(), 200);
        assert_eq!(login_status(&app, "alice", fresh).await, 303, "the genuine form resets it");
    }

    async fn e1_account_and_logout_forms_from_another_site_are_refused_and_change_nothing(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let phone = signed_in_browser(&app, "alice", PASSWORD).await;
        // Something for "remove access" to revoke: the app's tokens from this session.
        let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
        let to = location(browser.follow(&url).await.headers()).unwrap();
        let code = query_param(&to, "code").expect("a code from the signed-in session");
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let access_token = tokens["access_token"].as_str().unwrap();
        let html = browser.get("/account").await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let phone_session = hidden_input(&html, "session_id").expect("the phone's End button");

        let with_csrf = |fields: &[(&'static str, &str)]| -> Form<'static> {
            let mut form: Form = vec![("csrf_token", csrf.clone())];
            form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
            form
        };
        let profile = with_csrf(&[("given_name", "Eve"), ("family_name", "Intruder"), ("username", "alice")]);
        let email = with_csrf(&[("email", "eve@evil.example"), ("current_password", PASSWORD)]);
        let password = with_csrf(&[("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]);
        let end_all = with_csrf(&[]);
        let end_phone = with_csrf(&[("session_id", &phone_session)]);
        let revoke = with_csrf(&[("client_id", &app.client.id)]);
        let delete = with_csrf(&[("current_password", PASSWORD)]);
        let logout = with_csrf(&[]);
        for (path, form) in [
            ("/account/profile", &profile), ("/account/email", &email), ("/account/password", &password),
            ("/account/sessions/end", &end_all), ("/account/sessions/end", &end_phone),
            ("/account/consents/revoke", &revoke), ("/account/delete", &delete), ("/logout/confirm", &logout),
        ] {
            refused_from_other_sites(&app, &browser, path, form).await;
        }
        assert_eq!(browser.get("/account").await.status(), 200, "still signed in");
        assert_eq!(phone.get("/account").await.status(), 200, "the phone too");
        assert_eq!(app.userinfo_status(access_token).await, 200, "the app keeps its access");
        let account = app.store.account_by_id(&app.user.id).await.unwrap().expect("the account exists");
        assert_eq!((account.given_name.as_str(), account.email.as_str()), ("Alice", "alice@example.com"));
        assert_eq!(app.mail.count_to("eve@evil.example"), 0);

        // The same forms from our own page do what they say.
        let saved = from_our_page(&app, &browser, "/account/profile", &profile).await;
        assert_eq!(saved.status(), 200);
        assert!(saved.text().await.unwrap().contains("Profile saved."));
        assert_eq!(from_our_page(&app, &browser, "/account/email", &email).await.status(), 200);
        nth_mail(&app, "eve@evil.example", "Confirm your new email", 1).await;
        assert_eq!(from_our_page(&app, &browser, "/account/sessions/end", &end_phone).await.status(), 200);
        assert_eq!(phone.get("/account").await.status(), 302, "the phone is signed out");
        let revoked = from_our_page(&app, &browser, "/account/consents/revoke", &revoke).await;
        assert_eq!(revoked.status(), 302);
        assert_eq!(app.userinfo_status(access_token).await, 401, "access removed");
        let laptop = signed_in_browser(&app, "alice", PASSWORD).await;
        let laptop_logout: Form = vec![("csrf_token", account_csrf(&laptop).await)];
        assert_eq!(from_our_page(&app, &laptop, "/logout/confirm", &laptop_logout).await.status(), 200);
        assert_eq!(laptop.get("/account").await.status(), 302, "signed out");
        assert_eq!(from_our_page(&app, &browser, "/account/password", &password).await.status(), 200);
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD).await, 303, "the new password works");
        let delete = with_csrf(&[("current_password", NEW_PASSWORD)]);
        let deleted = from_our_page(&app, &browser, "/account/delete", &delete).await;
        assert_eq!(deleted.status(), 200);
        assert!(app.store.account_by_id(&app.user.id).await.unwrap().is_none(), "deleted");
    }

    async fn e1_undoing_an_email_change_from_another_site_is_refused_and_changes_nothing(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let asked = account_form(&app, &browser, "/account/email", &[("email", "alice@new.example"), ("current_password", PASSWORD)]).await;
        assert_eq!(asked.status(), 200);
        let link = app.mail.wait_for("alice@new.example", "Confirm your new email").await.link();
        assert_eq!(press_link(&app, &browser, &link, "/account/email/confirm").await.status(), 200);
        let undo = app.mail.wait_for("alice@example.com", "email address was changed").await.link();

        let owner = app.browser();
        let page = owner.get(&undo).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        let revert: Form = vec![
            ("csrf_token", hidden_input(&page, "csrf_token").unwrap()),
            ("token", hidden_input(&page, "token").unwrap()),
        ];
        refused_from_other_sites(&app, &owner, "/account/email/revert", &revert).await;
        let account = app.store.account_by_id(&app.user.id).await.unwrap().unwrap();
        assert_eq!(account.email, "alice@new.example", "not undone");
        assert_eq!(browser.get("/account").await.status(), 200, "nobody was signed out");

        let undone = from_our_page(&app, &owner, "/account/email/revert", &revert).await;
        assert_eq!(undone.status(), 200);
        let account = app.store.account_by_id(&app.user.id).await.unwrap().unwrap();
        assert_eq!(account.email, "alice@example.com", "the genuine form undoes it");
    }

    async fn e3_a_hostile_state_is_escaped_in_the_form_post_page(app) {
        let hostile = "\"><script>alert(1)</script>";
        // An error (no session for prompt=none) and a code, both delivered by form_post.
        let (url, _) = app.authorize_url(&app.client, &[("response_mode", "form_post"), ("prompt", "none"), ("state", hostile)]);
        let error_page = app.browser().get(&url).await;
        assert_eq!(error_page.status(), 200);
        let error_page = error_page.text().await.unwrap();
        assert_eq!(hidden_input(&error_page, "error").as_deref(), Some("login_required"));

        let (url, verifier) = app.authorize_url(&app.client, &[("response_mode", "form_post"), ("state", hostile)]);
        let browser = app.browser();
        let login = browser.follow(&url).await.text().await.unwrap();
        let response = browser.submit_login(&login, "alice", PASSWORD).await;
        let code_page = browser.follow(&location(response.headers()).unwrap()).await;
        assert_eq!(code_page.status(), 200);
        let code_page = code_page.text().await.unwrap();

        for (what, html) in [("error", &error_page), ("code", &code_page)] {
            assert!(!html.contains("<script>alert(1)"), "{what} page renders the state raw: {html}");
            assert!(!html.contains("\"><script"), "{what} page: the state breaks out of its attribute");
            assert_eq!(html.matches("<script").count(), 1, "{what} page: only our own script tag");
            assert_eq!(hidden_input(html, "state").as_deref(), Some(hostile), "{what} page: state goes back intact");
        }
        let code = hidden_input(&code_page, "code").unwrap();
        assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 200);
    }

    async fn e3_hostile_text_reflected_in_an_error_description_is_escaped(app) {
        let script = "<script>alert(1)</script>";
        // On our error page: a repeated parameter is named in the message.
        let name = format!("\">{script}");
        let query = serde_urlencoded::to_string([(name.as_str(), "a"), (name.as_str(), "b"), ("client_id", "client")]).unwrap();
        let response = app.browser().get(&format!("/authorize?{query}")).await;
        assert_eq!(response.status(), 400);
        assert!(location(response.headers()).is_none());
        let html = response.text().await.unwrap();
        assert!(!html.contains(script), "the error page renders the parameter name raw: {html}");
        assert!(!html.contains("\"><script"), "{html}");
        assert!(unescape_html(&html).contains(script), "the message names the parameter (escaped): {html}");

        // In a form_post error: an unknown prompt value is quoted in error_description.
        let (url, _) = app.authorize_url(&app.client, &[("response_mode", "form_post"), ("prompt", &name)]);
        let response = app.browser().get(&url).await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        assert_eq!(hidden_input(&html, "error").as_deref(), Some("invalid_request"));
        let description = hidden_input(&html, "error_description").expect("an error_description");
        assert!(description.contains(script), "{description}");
        assert!(!html.contains(script), "the form_post page renders the description raw: {html}");
        assert_eq!(html.matches("<script").count(), 1, "only our own script tag");
    }
}
