//! One regression test (or a few) per row of the security checklist
//! (`/work/shared/security-checklist.md`), named after the row (`c14_…`, `h4_…`) so a
//! row can cite its test. Black-box like the rest of the suite: a real Gatehouse on
//! loopback, real HTTP, mail from the real SMTP sink, time moved with the test clock.
//! Each file is one section of the checklist.

use crate::helpers::*;
use crate::smtp::Mail;

mod accounts;

/// A password the checklist tests change to; passes the policy.
pub const NEW_PASSWORD: &str = "quiet lantern orbit meadow";

/// Signs in on the bare login page (no app), as a user would to reach /account.
pub async fn signed_in_browser(app: &TestApp, identifier: &str, password: &str) -> Browser {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    let response = browser.submit_login(&html, identifier, password).await;
    assert_eq!(response.status(), 303, "sign-in as {identifier} should succeed");
    browser
}

/// The status of a fresh browser's login attempt: 303 signed in, 401 refused.
pub async fn login_status(app: &TestApp, identifier: &str, password: &str) -> u16 {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    browser
        .submit_login(&html, identifier, password)
        .await
        .status()
        .as_u16()
}

/// Submits a form of the account page with the session's CSRF token.
pub async fn account_form(
    app: &TestApp,
    browser: &Browser,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = browser.get("/account").await.text().await.unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token"))];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    browser.http.post(app.url(action)).form(&form).send().await.unwrap()
}

/// Fills in the forgot-password form in `browser` for `identifier`.
pub async fn request_reset(app: &TestApp, browser: &Browser, identifier: &str) -> reqwest::Response {
    let html = browser.get("/forgot").await.text().await.unwrap();
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token")),
        ("identifier", identifier.to_string()),
    ];
    browser.http.post(app.url("/forgot")).form(&form).send().await.unwrap()
}

/// Waits (bounded, for delivery by the mail worker) until `n` messages to `to` whose
/// subject contains `subject` arrived; returns the `n`th (1-based).
pub async fn nth_mail(app: &TestApp, to: &str, subject: &str, n: usize) -> Mail {
    for _ in 0..100 {
        let matching: Vec<Mail> = app
            .mail
            .all()
            .into_iter()
            .filter(|m| m.to == to && m.subject.contains(subject))
            .collect();
        if matching.len() >= n {
            return matching[n - 1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail #{n} to {to} about {subject:?}; got {:?}", app.mail.all());
}
