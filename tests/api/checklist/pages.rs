//! Checklist section E, web pages: CSRF on consent and on email-change confirmation
//! (E1), and user data rendered escaped on every page that shows it (E3).

use super::*;
use crate::on_both_backends;

const EVIL_ORIGIN: &str = "https://evil.example";

/// A refused form submission: what it tries, the CSRF token it sends, extra headers.
type Attempt<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

async fn third_party(app: &TestApp, name: &str) -> TestClient {
    add_client(&app.store, "partner", true, 0, |c| {
        c.name = name.into();
        c.redirect_uris = vec!["https://partner.example.com/cb".into()];
        c.first_party = false;
    })
    .await
}

/// Signs in through an authorization for `client` and returns the consent page's HTML.
async fn consent_page(app: &TestApp, browser: &Browser, client: &TestClient) -> String {
    let (url, _) = app.authorize_url(client, &[("scope", "openid email")]);
    let mut response = browser.follow(&url).await;
    let mut html = response.text().await.unwrap();
    if html.contains("name=\"password\"") {
        response = browser.submit_login(&html, "alice", PASSWORD).await;
        response = browser.follow(&location(response.headers()).unwrap()).await;
        html = response.text().await.unwrap();
    }
    assert!(html.contains("name=\"decision\""), "expected the consent page: {html}");
    html
}

/// Whether the partner would get a code silently now, i.e. consent was recorded.
async fn consent_recorded(app: &TestApp, browser: &Browser, client: &TestClient) -> bool {
    let (url, _) = app.authorize_url(client, &[("scope", "openid email"), ("prompt", "none")]);
    let to = location(browser.get(&url).await.headers()).unwrap();
    query_param(&to, "code").is_some()
}

/// Asserts that `payload` is shown on `page` (once entities are decoded) and never raw.
fn assert_escaped(page: &str, html: &str, payload: &str) {
    assert!(!html.contains(payload), "{page} renders {payload:?} raw");
    assert!(
        !html.contains("<img src=x") && !html.contains("<svg"),
        "{page} renders markup from user data"
    );
    assert!(
        unescape_html(html).contains(payload),
        "{page} should show {payload:?} (escaped)"
    );
}

on_both_backends! {
    async fn e1_consent_with_a_forged_token_or_from_another_origin_is_refused(app) {
        let partner = third_party(&app, "Partner App").await;
        let browser = app.browser();
        let html = consent_page(&app, &browser, &partner).await;
        let request_id = hidden_input(&html, "request_id").unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let forged = gatehouse::secrets::random_token();
        let cases: [Attempt; 3] = [
            ("forged CSRF token", forged.as_str(), &[]),
            ("real token, Origin of another site", csrf.as_str(), &[("origin", EVIL_ORIGIN)]),
            ("real token, cross-site fetch", csrf.as_str(), &[("sec-fetch-site", "cross-site")]),
        ];
        for (case, token, headers) in cases {
            let form = [("csrf_token", token), ("request_id", request_id.as_str()), ("decision", "allow")];
            let mut request = browser.http.post(app.url("/consent")).form(&form);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{case}");
            let to = location(response.headers()).unwrap_or_default();
            assert!(!to.contains("code="), "{case}: no code issued ({to})");
            assert!(!consent_recorded(&app, &browser, &partner).await, "{case}: no consent recorded");
        }
        // The genuine form still works: the request was not spent by the refusals.
        let form = [("csrf_token", csrf.as_str()), ("request_id", request_id.as_str()), ("decision", "allow")];
        let response = browser.http.post(app.url("/consent")).form(&form).send().await.unwrap();
        let next = location(response.headers()).unwrap();
        let to = location(browser.follow(&next).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "{to}");
    }

    async fn e1_email_change_confirmation_with_a_forged_token_or_from_another_origin_is_refused(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let asked = account_form(&app, &browser, "/account/email", &[("email", "alice@new.example"), ("current_password", PASSWORD)]).await;
        assert_eq!(asked.status(), 200);
        let link = app.mail.wait_for("alice@new.example", "Confirm your new email").await.link();
        let html = browser.get(&link).await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let token = hidden_input(&html, "token").unwrap();
        let forged = gatehouse::secrets::random_token();
        let cases: [Attempt; 3] = [
            ("forged CSRF token", forged.as_str(), &[]),
            ("real token, Origin of another site", csrf.as_str(), &[("origin", EVIL_ORIGIN)]),
            ("real token, cross-site fetch", csrf.as_str(), &[("sec-fetch-site", "cross-site")]),
        ];
        for (case, csrf_token, headers) in cases {
            let form = [("csrf_token", csrf_token), ("token", token.as_str())];
            let mut request = browser.http.post(app.url("/account/email/confirm")).form(&form);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            assert_eq!(request.send().await.unwrap().status(), 403, "{case}");
            let account = app.store.account_by_id(&app.user.id).await.unwrap().unwrap();
            assert_eq!(account.email, "alice@example.com", "{case}: the email is unchanged");
        }
        assert_eq!(login_status(&app, "alice@new.example", PASSWORD).await, 401);
        // The link is still good for the genuine form.
        assert_eq!(press_link(&app, &browser, &link, "/account/email/confirm").await.status(), 200);
        assert_eq!(login_status(&app, "alice@new.example", PASSWORD).await, 303);
    }

    async fn e3_display_name_and_username_are_escaped_on_every_page_that_shows_them(app) {
        let display = "</script><img src=x onerror=alert(1)>";
        // Usernames allow neither spaces nor @, but markup fits.
        let username = "</script><svg/onload=alert(1)>";
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let saved = account_form(&app, &browser, "/account/profile", &[
            ("given_name", display), ("family_name", display), ("username", username),
        ]).await;
        assert_eq!(saved.status(), 200);
        let html = saved.text().await.unwrap();
        assert!(html.contains("Profile saved."), "{html}");
        let account = app.store.account_by_id(&app.user.id).await.unwrap().unwrap();
        assert_eq!((account.given_name.as_str(), account.username.as_str()), (display, username), "stored as typed");

        let account_page = browser.get("/account").await.text().await.unwrap();
        assert_escaped("account page", &account_page, display);
        assert_escaped("account page", &account_page, username);
        let home = browser.get("/").await.text().await.unwrap();
        assert_escaped("home page", &home, display);
        assert_escaped("home page", &home, username);
        let partner = third_party(&app, "Partner App").await;
        let consent = consent_page(&app, &browser, &partner).await;
        assert_escaped("consent page", &consent, username);
        let logout = browser.get("/logout").await;
        assert_eq!(logout.status(), 200);
        let logout = logout.text().await.unwrap();
        assert!(logout.contains("Sign out?"), "{logout}");
        assert_escaped("logout confirmation", &logout, username);
    }

    async fn e3_client_name_is_escaped_on_login_and_consent(app) {
        let name = "</script><img src=x onerror=alert(1)>";
        let partner = third_party(&app, name).await;
        let browser = app.browser();
        let (url, _) = app.authorize_url(&partner, &[("scope", "openid email")]);
        let login = browser.follow(&url).await.text().await.unwrap();
        assert!(login.contains("name=\"password\""), "the login page");
        assert_escaped("login page", &login, name);
        let consent = consent_page(&app, &browser, &partner).await;
        assert_escaped("consent page", &consent, name);
    }
}
