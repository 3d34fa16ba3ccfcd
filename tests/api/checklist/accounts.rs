//! Checklist section C, accounts: the emailed links of password reset and signup
//! confirmation (C11 Host poisoning, C13 reuse and invalidation, C14 flow skipping).

use super::*;
use crate::on_both_backends;

/// Opens a reset link in `browser` (the token moves into the /reset cookie) and returns
/// the status of the reset page it leads to: 200 with the form, 400 for a dead link.
pub(super) async fn open_reset_link(browser: &Browser, link: &str) -> u16 {
    let moved = browser.get(link).await;
    assert_eq!(moved.status(), 302, "{link}");
    assert_eq!(location(moved.headers()).as_deref(), Some("/reset"));
    browser.get("/reset").await.status().as_u16()
}

on_both_backends! {
    async fn c14_reset_without_or_with_a_forged_reset_cookie_is_refused(app) {
        let browser = app.browser();
        request_reset(&app, &browser, "alice").await;
        let link = app.mail.wait_for("alice@example.com", "Reset your").await.link();
        assert_eq!(open_reset_link(&browser, &link).await, 200, "the reset cookie is obtained");
        let html = browser.get("/reset").await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        // The browser's other cookies (the CSRF one among them), without the /reset one.
        let site_cookies = browser.cookies();
        assert!(site_cookies.contains("gatehouse_csrf="), "{site_cookies}");
        assert!(!site_cookies.contains("gatehouse_reset="), "the reset cookie is scoped to /reset");
        let form = [("csrf_token", csrf.as_str()), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)];
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let forged = gatehouse::secrets::random_token();
        for (case, cookie) in [
            ("no reset cookie", site_cookies.clone()),
            ("forged reset cookie", format!("{site_cookies}; gatehouse_reset={forged}")),
            ("empty reset cookie", format!("{site_cookies}; gatehouse_reset=")),
        ] {
            let response = http.post(app.url("/reset")).header("cookie", cookie).form(&form).send().await.unwrap();
            assert_eq!(response.status(), 400, "{case}");
        }
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303, "the old password still signs in");
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD).await, 401, "the new one was never set");
        // The same form with the real cookie works: the refusals above were the cookie's.
        let done = browser.http.post(app.url("/reset")).form(&form).send().await.unwrap();
        assert_eq!(done.status(), 200);
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD).await, 303);
    }

    async fn c13_a_newer_reset_link_or_a_password_change_kills_older_links(app) {
        let browser = app.browser();
        request_reset(&app, &browser, "alice").await;
        let first = nth_mail(&app, "alice@example.com", "Reset your", 1).await.link();
        request_reset(&app, &browser, "alice").await;
        let second = nth_mail(&app, "alice@example.com", "Reset your", 2).await.link();
        assert_ne!(first, second);
        assert_eq!(open_reset_link(&app.browser(), &first).await, 400, "the first link died with the second request");
        assert_eq!(open_reset_link(&app.browser(), &second).await, 200, "the newest link is live");

        // A password change on the account page (not through the link) kills it too.
        let signed_in = signed_in_browser(&app, "alice", PASSWORD).await;
        let changed = account_form(&app, &signed_in, "/account/password", &[
            ("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD),
        ]).await;
        assert_eq!(changed.status(), 200);
        let opened = app.browser();
        assert_eq!(open_reset_link(&opened, &second).await, 400, "the remaining link died with the password change");
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD).await, 303);
    }

    async fn c11_poisoned_host_headers_never_reach_emailed_links(app) {
        let poison = [
            ("host", "evil.example"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "host=evil.example;proto=https"),
        ];
        // Forgot password.
        let browser = app.browser();
        let html = browser.get("/forgot").await.text().await.unwrap();
        let form = [("csrf_token", hidden_input(&html, "csrf_token").unwrap()), ("identifier", "alice".to_string())];
        let mut request = browser.http.post(app.url("/forgot")).form(&form);
        for (name, value) in poison {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status == 200 || status == 400, "ignored or refused, got {status}");
        if status == 200 {
            let link = app.mail.wait_for("alice@example.com", "Reset your").await.link();
            assert!(link.starts_with(&format!("{}/reset?token=", app.base)), "links use the configured issuer: {link}");
        }
        // Signup confirmation.
        let html = browser.get("/signup").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("given_name", "Carol".to_string()), ("family_name", "Example".to_string()),
            ("username", "carol".to_string()), ("email", "carol@example.com".to_string()),
            ("password", NEW_PASSWORD.to_string()), ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        let mut request = browser.http.post(app.url("/signup")).form(&form);
        for (name, value) in poison {
            request = request.header(name, value);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert!(status == 200 || status == 400, "ignored or refused, got {status}");
        if status == 200 {
            let link = app.mail.wait_for("carol@example.com", "Confirm your email").await.link();
            assert!(link.starts_with(&format!("{}/signup/confirm?token=", app.base)), "{link}");
        }
        for mail in app.mail.all() {
            assert!(!mail.text.contains("evil.example"), "{mail:?}");
        }
    }
}
