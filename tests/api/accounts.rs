//! The hosted account pages, driven over HTTP with mail read from a real SMTP server:
//! signup and confirmation, forgot/reset, profile changes, deletion, and the rules
//! (enumeration, CSRF, open redirects, escaping, throttling, the outbox).

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

const NEW_PASSWORD: &str = "quiet lantern orbit meadow";

struct Signup<'a> {
    username: &'a str,
    email: &'a str,
    given: &'a str,
    password: &'a str,
}

impl Default for Signup<'_> {
    fn default() -> Self {
        Signup {
            username: "carol",
            email: "carol@example.com",
            given: "Carol",
            password: NEW_PASSWORD,
        }
    }
}

/// Fills in the signup form found at `url` (which may carry a request_id).
async fn sign_up(app: &TestApp, browser: &Browser, url: &str, form: &Signup<'_>) -> reqwest::Response {
    let html = browser.follow(url).await.text().await.unwrap();
    let mut fields = vec![
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf")),
        ("given_name", form.given.to_string()),
        ("family_name", "Example".to_string()),
        ("username", form.username.to_string()),
        ("email", form.email.to_string()),
        ("password", form.password.to_string()),
        ("password_confirm", form.password.to_string()),
    ];
    if let Some(id) = hidden_input(&html, "request_id") {
        fields.push(("request_id", id));
    }
    browser
        .http
        .post(app.url("/signup"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Opens an emailed confirm-style link and presses its button.
async fn press_link(app: &TestApp, browser: &Browser, link: &str, action: &str) -> reqwest::Response {
    press_link_with(app, browser, link, action, &[]).await
}

/// As `press_link`, with more fields in the form (a password, `cancel`).
async fn press_link_with(
    app: &TestApp,
    browser: &Browser,
    link: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let page = browser.get(link).await;
    assert_eq!(page.status(), 200, "{link}");
    let html = page.text().await.unwrap();
    let mut form = vec![
        ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
        ("token", hidden_input(&html, "token").unwrap()),
    ];
    form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    browser.http.post(app.url(action)).form(&form).send().await.unwrap()
}

async fn login_status(app: &TestApp, identifier: &str, password: &str) -> (u16, String) {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    let response = browser.submit_login(&html, identifier, password).await;
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

async fn account_form(app: &TestApp, browser: &Browser, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let html = browser.get("/account").await.text().await.unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", hidden_input(&html, "csrf_token").unwrap())];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    browser.http.post(app.url(action)).form(&form).send().await.unwrap()
}

on_both_backends! {
    async fn signup_confirmation_continues_the_apps_sign_in(app) {
        let (authorize, verifier) = app.authorize_url(&app.client, &[]);
        let browser = app.browser();
        let login = browser.follow(&authorize).await.text().await.unwrap();
        let request_id = hidden_input(&login, "request_id").unwrap();
        let response = sign_up(&app, &browser, &format!("/signup?request_id={request_id}"), &Signup::default()).await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("Check your email"));

        // Not usable before confirmation: the login page says so.
        let (status, body) = login_status(&app, "carol", NEW_PASSWORD).await;
        assert_eq!(status, 403);
        assert!(body.contains("Confirm your email first"));

        let mail = app.mail.wait_for("carol@example.com", "Confirm your email").await;
        let link = mail.link();
        assert!(link.starts_with(&format!("{}/signup/confirm?token=", app.base)), "links use the issuer: {link}");
        // Opening the link (as a mail scanner would) changes nothing.
        browser.get(&link).await;
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await.0, 403);

        let confirmed = press_link(&app, &browser, &link, "/signup/confirm").await;
        assert_eq!(confirmed.status(), 302);
        let next = location(confirmed.headers()).unwrap();
        assert!(next.starts_with("/authorize/resume/"), "{next}");
        let to = location(browser.follow(&next).await.headers()).unwrap();
        let code = query_param(&to, "code").expect("back at the app with a code");
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let userinfo: Value = reqwest::Client::new()
            .get(app.url("/userinfo")).bearer_auth(tokens["access_token"].as_str().unwrap())
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(userinfo["preferred_username"], "carol");
        assert_eq!(userinfo["email_verified"], true);
        // The link worked once.
        assert_eq!(browser.get(&link).await.status(), 400);
    }

    async fn signup_for_a_taken_email_answers_the_same_and_tells_the_owner(app) {
        let browser = app.browser();
        let fresh = sign_up(&app, &browser, "/signup", &Signup::default()).await.text().await.unwrap();
        let taken = sign_up(&app, &app.browser(), "/signup", &Signup { username: "alice2", email: "alice@example.com", ..Default::default() })
            .await.text().await.unwrap();
        let strip = |html: &str| html.replace("carol@example.com", "X").replace("alice@example.com", "X");
        let (a, b) = (strip(&fresh), strip(&taken));
        let no_csrf = |h: &str| h.lines().filter(|l| !l.contains("csrf_token")).collect::<Vec<_>>().join("\n");
        assert_eq!(no_csrf(&a), no_csrf(&b), "the answer must not reveal the account");
        app.mail.wait_for("alice@example.com", "already have").await;
        // A taken username is said plainly (usernames are public handles).
        let response = sign_up(&app, &app.browser(), "/signup", &Signup { username: "ALICE", email: "new@example.com", ..Default::default() }).await;
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains("That username is taken"));
    }

    async fn weak_passwords_are_refused_and_the_form_keeps_what_was_typed(app) {
        for (password, message) in [("short", "at least 8"), ("password123", "too easy"), ("carolcarol1", "too easy")] {
            let response = sign_up(&app, &app.browser(), "/signup", &Signup { password, ..Default::default() }).await;
            assert_eq!(response.status(), 400);
            let html = response.text().await.unwrap();
            assert!(html.contains(message), "{password}: {html}");
            assert!(html.contains("value=\"carol@example.com\""), "typed values are kept");
            assert!(!html.contains(password) || password == "short", "passwords are not echoed");
        }
    }

    async fn resend_replaces_the_link(app) {
        let browser = app.browser();
        sign_up(&app, &browser, "/signup", &Signup::default()).await;
        let first = app.mail.wait_for("carol@example.com", "Confirm").await.link();
        let (_, body) = login_status(&app, "carol", NEW_PASSWORD).await;
        let form = [("csrf_token", hidden_input(&body, "csrf_token").unwrap()), ("email", "carol@example.com".into())];
        let resend = browser.http.post(app.url("/signup/resend")).form(&form).send().await.unwrap();
        assert_eq!(resend.status(), 403, "a fresh browser's CSRF cookie differs");
        let html = browser.get("/signup").await.text().await.unwrap();
        let form = [("csrf_token", hidden_input(&html, "csrf_token").unwrap()), ("email", "carol@example.com".into())];
        assert_eq!(browser.http.post(app.url("/signup/resend")).form(&form).send().await.unwrap().status(), 200);
        for _ in 0..50 {
            if app.mail.count_to("carol@example.com") >= 2 { break; }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let second = app.mail.all().into_iter().rev().find(|m| m.to == "carol@example.com").unwrap().link();
        assert_ne!(first, second);
        assert_eq!(browser.get(&first).await.status(), 400, "an older link dies when a newer one is sent");
        // Anyone may ask for a resend, so its link also wants the sign-up password.
        assert_eq!(press_link(&app, &browser, &second, "/signup/confirm").await.status(), 400);
        let confirmed = press_link_with(&app, &browser, &second, "/signup/confirm", &[("password", NEW_PASSWORD)]).await;
        assert_eq!(confirmed.status(), 200);
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await.0, 303, "confirmed");
    }

    async fn forgot_and_reset_password_revokes_everything(app) {
        // Something to revoke: a live session and a refresh token.
        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let old_session = signed_in_browser(&app, "alice", PASSWORD).await;

        let browser = app.browser();
        let forgot = |identifier: &'static str| {
            let browser = &browser;
            let app = &app;
            async move {
                let html = browser.get("/forgot").await.text().await.unwrap();
                let form = [("csrf_token", hidden_input(&html, "csrf_token").unwrap()), ("identifier", identifier.to_string())];
                browser.http.post(app.url("/forgot")).form(&form).send().await.unwrap().text().await.unwrap()
            }
        };
        let known = forgot("alice").await;
        let unknown = forgot("nobody-here").await;
        assert_eq!(known, unknown, "the same answer for every identifier");

        let link = app.mail.wait_for("alice@example.com", "Reset your").await.link();
        let moved = browser.get(&link).await;
        assert_eq!(moved.status(), 302);
        assert_eq!(location(moved.headers()).as_deref(), Some("/reset"), "the token leaves the URL");
        let page = browser.get("/reset").await;
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let weak = browser.http.post(app.url("/reset"))
            .form(&[("csrf_token", csrf.as_str()), ("password", "password1"), ("password_confirm", "password1")])
            .send().await.unwrap();
        assert_eq!(weak.status(), 400);
        let done = browser.http.post(app.url("/reset"))
            .form(&[("csrf_token", csrf.as_str()), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)])
            .send().await.unwrap();
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("Sign in with it now"), "no auto-login");

        assert_eq!(login_status(&app, "alice", PASSWORD).await.0, 401, "the old password stops working");
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD).await.0, 303);
        assert_eq!(old_session.get("/account").await.status(), 302, "old sessions are gone");
        assert_eq!(oauth_error(app.refresh(&app.client, tokens["refresh_token"].as_str().unwrap(), &[]).await).await.1, "invalid_grant");
        app.mail.wait_for("alice@example.com", "password was changed").await;
        // The link was single use.
        browser.get(&link).await;
        assert_eq!(browser.get("/reset").await.status(), 400);
    }

    async fn forms_without_csrf_or_from_other_sites_are_refused(app) {
        let http = reqwest::Client::new();
        for path in ["/signup", "/forgot", "/reset", "/signup/resend", "/signup/confirm"] {
            let response = http.post(app.url(path)).form(&[("email", "x@example.com")]).send().await.unwrap();
            assert_eq!(response.status(), 403, "{path}");
        }
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        for path in ["/account/profile", "/account/password", "/account/email", "/account/delete", "/account/sessions/end"] {
            let response = browser.http.post(app.url(path)).form(&[("csrf_token", "forged")]).send().await.unwrap();
            assert_eq!(response.status(), 403, "{path}");
        }
        let cross = account_form(&app, &browser, "/account/profile", &[("given_name", "Eve")]).await;
        assert_eq!(cross.status(), 400, "the real token passes CSRF (and then validation)");
    }

    async fn return_to_only_goes_to_local_paths(app) {
        for (target, expected) in [
            ("//evil.example/x", "/account"),
            ("/\\evil.example", "/account"),
            ("https://evil.example", "/account"),
            ("javascript:alert(1)", "/account"),
            ("/account/consents", "/account/consents"),
            // A registered redirect URI of a known client, exactly.
            (CONFIDENTIAL_REDIRECT, CONFIDENTIAL_REDIRECT),
            ("http://127.0.0.1:9/callback/x", "/account"),
        ] {
            let browser = app.browser();
            let query = serde_urlencoded::to_string([("return_to", target)]).unwrap();
            let html = browser.get(&format!("/login?{query}")).await.text().await.unwrap();
            let mut form = vec![
                ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
                ("identifier", "alice".into()),
                ("password", PASSWORD.into()),
            ];
            form.push(("return_to", target.to_string()));
            let response = browser.http.post(app.url("/login")).form(&form).send().await.unwrap();
            assert_eq!(location(response.headers()).as_deref(), Some(expected), "{target}");
        }
    }

    async fn profile_changes_are_escaped_and_saved(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let response = account_form(&app, &browser, "/account/profile", &[
            ("given_name", "<script>alert(1)</script>"), ("family_name", "\"><img src=x onerror=alert(1)>"), ("username", "alice_w"),
        ]).await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>alert(1)"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("Profile saved."));
        assert_eq!(login_status(&app, "alice_w", PASSWORD).await.0, 303, "the new username signs in");
        let taken = account_form(&app, &browser, "/account/profile", &[("given_name", "A"), ("family_name", "B"), ("username", "client")]).await;
        assert_eq!(taken.status(), 200, "an unused name is fine");
    }

    async fn email_change_needs_the_password_and_the_new_address(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let wrong = account_form(&app, &browser, "/account/email", &[("email", "alice@new.example"), ("current_password", "nope")]).await;
        assert_eq!(wrong.status(), 400);
        let ok = account_form(&app, &browser, "/account/email", &[("email", "alice@new.example"), ("current_password", PASSWORD)]).await;
        assert_eq!(ok.status(), 200);
        app.mail.wait_for("alice@example.com", "is changing").await;
        let link = app.mail.wait_for("alice@new.example", "Confirm your new email").await.link();
        // Nothing changes until the new address confirms.
        assert_eq!(login_status(&app, "alice@new.example", PASSWORD).await.0, 401);
        assert_eq!(press_link(&app, &browser, &link, "/account/email/confirm").await.status(), 200);
        assert_eq!(login_status(&app, "alice@new.example", PASSWORD).await.0, 303);
        assert_eq!(login_status(&app, "alice@example.com", PASSWORD).await.0, 401);
    }

    async fn c17_an_email_change_can_be_undone_from_the_old_address(app) {
        // A reset link requested before the change dies with it.
        let forgot = app.browser();
        let html = forgot.get("/forgot").await.text().await.unwrap();
        let form = [("csrf_token", hidden_input(&html, "csrf_token").unwrap()), ("identifier", "alice".to_string())];
        forgot.http.post(app.url("/forgot")).form(&form).send().await.unwrap();
        let old_reset = app.mail.wait_for("alice@example.com", "Reset your").await.link();
        // Mallory knows Alice's password: she moves the account to her own address.
        let mallory = signed_in_browser(&app, "alice", PASSWORD).await;
        account_form(&app, &mallory, "/account/email", &[("email", "mallory@evil.example"), ("current_password", PASSWORD)]).await;
        let confirm = app.mail.wait_for("mallory@evil.example", "Confirm your new email").await.link();
        assert_eq!(press_link(&app, &mallory, &confirm, "/account/email/confirm").await.status(), 200);
        forgot.get(&old_reset).await;
        assert_eq!(forgot.get("/reset").await.status(), 400, "the old address's reset link is dead");
        // …and changes the password, which kills every other link, but not the way back.
        let taken = "mallory has this account now";
        account_form(&app, &mallory, "/account/password", &[("current_password", PASSWORD), ("password", taken), ("password_confirm", taken)]).await;
        let undo = app.mail.wait_for("alice@example.com", "was changed").await;
        assert!(undo.text.contains("mallory@evil.example"), "{}", undo.text);
        let undo = undo.link();
        assert!(undo.starts_with(&format!("{}/account/email/revert?token=", app.base)), "{undo}");
        // Alice undoes it from her mailbox alone.
        let alice = app.browser();
        let undone = press_link(&app, &alice, &undo, "/account/email/revert").await;
        assert_eq!(undone.status(), 200);
        assert!(undone.text().await.unwrap().contains("alice@example.com again"));
        assert_eq!(app.store.account_by_id(&app.user.id).await.unwrap().unwrap().email, "alice@example.com");
        assert_eq!(mallory.get("/account").await.status(), 302, "Mallory is signed out");
        assert_eq!(login_status(&app, "alice", taken).await.0, 401, "Mallory's password is gone");
        assert_eq!(login_status(&app, "alice", PASSWORD).await.0, 401, "so is the stolen one");
        assert_eq!(alice.get(&undo).await.status(), 400, "the way back works once");
        // A fresh reset link arrives at the restored address and lets Alice in.
        let reset = crate::checklist::nth_mail(&app, "alice@example.com", "Reset your", 2).await.link();
        alice.get(&reset).await;
        let html = alice.get("/reset").await.text().await.unwrap();
        let fresh = "alice is back in charge";
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("password", fresh.to_string()),
            ("password_confirm", fresh.to_string()),
        ];
        assert_eq!(alice.http.post(app.url("/reset")).form(&form).send().await.unwrap().status(), 200);
        assert_eq!(login_status(&app, "alice", fresh).await.0, 303);
    }

    async fn password_change_ends_other_sessions(app) {
        let other = signed_in_browser(&app, "alice", PASSWORD).await;
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let response = account_form(&app, &browser, "/account/password", &[
            ("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD),
        ]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(browser.get("/account").await.status(), 200, "this session stays");
        assert_eq!(other.get("/account").await.status(), 302, "the other one is gone");
        let no_current = account_form(&app, &browser, "/account/password", &[
            ("current_password", "wrong"), ("password", PASSWORD), ("password_confirm", PASSWORD),
        ]).await;
        assert_eq!(no_current.status(), 400);
    }

    async fn deleted_accounts_cannot_sign_in_and_free_their_names_for_a_new_sub(app) {
        let tokens = app.tokens_with(&app.client, &[("scope", "openid offline_access")]).await;
        let old_sub = jwt_claims(tokens["id_token"].as_str().unwrap())["sub"].clone();
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let refused = account_form(&app, &browser, "/account/delete", &[("current_password", "wrong")]).await;
        assert_eq!(refused.status(), 400);
        let deleted = account_form(&app, &browser, "/account/delete", &[("current_password", PASSWORD)]).await;
        assert_eq!(deleted.status(), 200);
        assert_eq!(login_status(&app, "alice", PASSWORD).await.0, 401);
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 401);
        assert_eq!(oauth_error(app.refresh(&app.client, tokens["refresh_token"].as_str().unwrap(), &[]).await).await.1, "invalid_grant");

        let again = app.browser();
        sign_up(&app, &again, "/signup", &Signup { username: "alice", email: "alice@example.com", given: "Alice", ..Default::default() }).await;
        let link = app.mail.wait_for("alice@example.com", "Confirm your email").await.link();
        press_link(&app, &again, &link, "/signup/confirm").await;
        let new = app.store.account_by_identifier("alice").await.unwrap().unwrap();
        assert_ne!(Value::from(new.id), old_sub, "a new account never gets an old sub");
    }

    async fn reset_links_expire_after_an_hour(app) {
        let browser = app.browser();
        let html = browser.get("/forgot").await.text().await.unwrap();
        let form = [("csrf_token", hidden_input(&html, "csrf_token").unwrap()), ("identifier", "alice".to_string())];
        browser.http.post(app.url("/forgot")).form(&form).send().await.unwrap();
        let link = app.mail.wait_for("alice@example.com", "Reset your").await.link();
        app.clock.advance(3601);
        browser.get(&link).await;
        let page = browser.get("/reset").await;
        assert_eq!(page.status(), 400);
        assert!(page.text().await.unwrap().contains("This link has expired"));
    }

    async fn d7_ending_sessions_needs_a_recent_sign_in(app) {
        let phone = signed_in_browser(&app, "alice", PASSWORD).await;
        let stolen = signed_in_browser(&app, "alice", PASSWORD).await;
        // A cookie signed in more than 15 minutes ago (a stolen one, say) cannot end others.
        app.clock.advance(16 * 60);
        let refused = account_form(&app, &stolen, "/account/sessions/end", &[]).await;
        assert_eq!(refused.status(), 400);
        assert!(refused.text().await.unwrap().contains("needs a recent sign-in"));
        assert_eq!(phone.get("/account").await.status(), 200, "the phone stays signed in");
        // After signing in again, it can.
        let fresh = signed_in_browser(&app, "alice", PASSWORD).await;
        assert_eq!(account_form(&app, &fresh, "/account/sessions/end", &[]).await.status(), 200);
        assert_eq!(phone.get("/account").await.status(), 302);
    }

    async fn one_other_session_can_be_ended_from_the_account_page(app) {
        let phone = signed_in_browser(&app, "alice", PASSWORD).await;
        let laptop = signed_in_browser(&app, "alice", PASSWORD).await;
        let sessions = app.store.user_sessions(&app.user.id, app.clock.now()).await.unwrap();
        assert_eq!(sessions.len(), 2);
        let html = laptop.get("/account").await.text().await.unwrap();
        let phone_session = hidden_input(&html, "session_id").expect("the other session has an End button");
        let response = account_form(&app, &laptop, "/account/sessions/end", &[("session_id", &phone_session)]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(phone.get("/account").await.status(), 302, "the phone is signed out");
        assert_eq!(laptop.get("/account").await.status(), 200, "this browser stays signed in");
    }

    async fn a_confirmation_link_opened_elsewhere_does_not_sign_in(app) {
        let signer = app.browser();
        sign_up(&app, &signer, "/signup", &Signup::default()).await;
        let link = app.mail.wait_for("carol@example.com", "Confirm your email").await.link();
        // A second signup for the same, still pending, address cannot replace the account.
        let other = sign_up(&app, &app.browser(), "/signup", &Signup { username: "mallory", ..Default::default() }).await;
        assert_eq!(other.status(), 200);
        assert!(app.store.account_by_identifier("mallory").await.unwrap().is_none());
        // Opened in another browser: one click confirms nothing (C5: the address's owner
        // must not adopt an account someone else set up); the sign-up password does,
        // and still signs nobody in.
        let elsewhere = app.browser();
        let page = elsewhere.get(&link).await.text().await.unwrap();
        assert!(page.contains("Cancel this sign-up") && page.contains("type=\"password\""), "{page}");
        let response = press_link(&app, &elsewhere, &link, "/signup/confirm").await;
        assert_eq!(response.status(), 400);
        assert!(login_status(&app, "carol", NEW_PASSWORD).await.1.contains("Confirm your email first"));
        let response = press_link_with(&app, &elsewhere, &link, "/signup/confirm", &[("password", NEW_PASSWORD)]).await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("Sign in to continue"));
        assert_eq!(elsewhere.get("/account").await.status(), 302);
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await.0, 303, "confirmed");
    }

    async fn c5_a_signup_made_with_your_address_by_someone_else_can_be_cancelled_not_adopted(app) {
        // Mallory signs up with Carol's address and a password of her own.
        let mallory = app.browser();
        sign_up(&app, &mallory, "/signup", &Signup { password: "mallory's own secret phrase", ..Default::default() }).await;
        let link = app.mail.wait_for("carol@example.com", "Confirm your email").await.link();
        // Carol opens the mail: she cannot confirm without Mallory's password, and cancels.
        let carol = app.browser();
        let guessed = press_link_with(&app, &carol, &link, "/signup/confirm", &[("password", NEW_PASSWORD)]).await;
        assert_eq!(guessed.status(), 400);
        assert!(guessed.text().await.unwrap().contains("not the password"));
        let cancelled = press_link_with(&app, &carol, &link, "/signup/confirm", &[("cancel", "1")]).await;
        assert_eq!(cancelled.status(), 200);
        assert!(cancelled.text().await.unwrap().contains("Sign-up cancelled"));
        assert!(app.store.account_by_identifier("carol@example.com").await.unwrap().is_none());
        assert_eq!(login_status(&app, "carol", "mallory's own secret phrase").await.0, 401);
        // The address is Carol's to sign up with now, at once.
        sign_up(&app, &carol, "/signup", &Signup::default()).await;
        let mine = crate::checklist::nth_mail(&app, "carol@example.com", "Confirm your email", 2).await.link();
        assert_eq!(press_link(&app, &carol, &mine, "/signup/confirm").await.status(), 302);
        assert_eq!(login_status(&app, "carol", NEW_PASSWORD).await.0, 303);
    }

    async fn a_taken_username_is_answered_the_same_whatever_the_email(app) {
        let registered = sign_up(&app, &app.browser(), "/signup", &Signup { username: "alice", email: "alice@example.com", ..Default::default() }).await;
        let unregistered = sign_up(&app, &app.browser(), "/signup", &Signup { username: "alice", email: "nobody@example.com", ..Default::default() }).await;
        assert_eq!(registered.status(), 400);
        assert_eq!(unregistered.status(), 400);
        assert!(registered.text().await.unwrap().contains("That username is taken"));
        assert!(unregistered.text().await.unwrap().contains("That username is taken"));
    }

    async fn a_new_login_in_the_same_browser_ends_the_old_sessions_tokens(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 200);
        let html = browser.get("/login").await.text().await.unwrap();
        assert_eq!(browser.submit_login(&html, "alice", PASSWORD).await.status(), 303);
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 401);
    }

    async fn non_ascii_return_to_is_dropped_not_a_500(app) {
        let browser = app.browser();
        let html = browser.get("/login?return_to=/caf%C3%A9").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("identifier", "alice".to_string()),
            ("password", PASSWORD.to_string()),
            ("return_to", "/café".to_string()),
        ];
        let response = browser.http.post(app.url("/login")).form(&form).send().await.unwrap();
        assert_eq!(location(response.headers()).as_deref(), Some("/account"));
    }

    async fn repeated_failures_slow_down_one_identifier_only(app) {
        for _ in 0..5 {
            assert_eq!(login_status(&app, "alice", "wrong").await.0, 401);
        }
        let (status, body) = login_status(&app, "alice", PASSWORD).await;
        assert_eq!(status, 429, "even the right password waits now");
        assert!(body.contains("Too many failed attempts"));
        // Unknown identifiers are throttled the same way (nothing to learn from it).
        for _ in 0..5 {
            login_status(&app, "nobody", "wrong").await;
        }
        assert_eq!(login_status(&app, "nobody", "wrong").await.0, 429);
        app.clock.advance(31);
        assert_eq!(login_status(&app, "alice", PASSWORD).await.0, 303, "the owner is never locked out for long");
    }
}

#[tokio::test]
async fn per_ip_limit_answers_429_with_retry_after() {
    let app = spawn_app_with(Backend::Sqlite, |raw| raw.accounts.rate_limit_per_minute = 3)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let browser = app.browser();
        let html = browser.get("/login").await.text().await.unwrap();
        let response = browser.submit_login(&html, "alice", "wrong").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert!(retry_after.unwrap().parse::<u32>().unwrap() > 0);
}

#[tokio::test]
async fn the_outbox_survives_an_smtp_outage_and_a_restart() {
    // Nothing listens on this port yet: the SMTP server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(Backend::Sqlite, |raw| {
        raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into())
    })
    .await
    .unwrap();
    let response = sign_up(&app, &app.browser(), "/signup", &Signup::default()).await;
    assert_eq!(
        response.status(),
        200,
        "signup does not wait for, or fail with, the mail server"
    );
    for _ in 0..50 {
        if app.store.pending_mail_count().await.unwrap() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.store.pending_mail_count().await.unwrap(), 1, "kept in the outbox");

    // A second instance on the same database (a restart), with the mail server back.
    let sink = crate::smtp::SmtpSink::start_on(port).await;
    let database = format!("sqlite://{}/gatehouse.db", app.dir.path().display());
    let keys = app.dir.path().join("keys");
    let mut config = gatehouse::Config::from_raw(gatehouse::config::RawConfig {
        listen: "127.0.0.1:0".into(),
        database_url: database,
        keys_dir: keys,
        mail: gatehouse::config::MailSettings {
            smtp_url: Some(sink.url().into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    config.password_hashing.memory_kib = 8192;
    let clock = gatehouse::Clock::system();
    clock.advance(3600);
    let second = gatehouse::App::build(config, clock).await.unwrap();
    tokio::spawn(second.serve());
    let mail = sink.wait_for("carol@example.com", "Confirm your email").await;
    assert!(mail.link().contains("/signup/confirm?token="));
}

#[tokio::test]
async fn without_smtp_messages_are_written_as_eml_files() {
    let mail_dir = tempfile::tempdir().unwrap();
    let dir = mail_dir.path().to_path_buf();
    let app = spawn_app_with(Backend::Sqlite, move |raw| {
        raw.mail.smtp_url = None;
        raw.mail.file_dir = dir;
    })
    .await
    .unwrap();
    sign_up(&app, &app.browser(), "/signup", &Signup::default()).await;
    let mut written = None;
    for _ in 0..50 {
        written = std::fs::read_dir(mail_dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "eml"));
        if written.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let eml = std::fs::read_to_string(written.expect("an .eml file")).unwrap();
    assert!(eml.contains("To: carol@example.com"));
    assert!(eml.contains("Subject: Confirm your email address"));
    assert!(eml.contains("multipart/alternative"), "text and HTML parts");
}
