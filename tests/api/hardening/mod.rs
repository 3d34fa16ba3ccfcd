//! Hardening of the account pages and their mail, each test named after its rule: a
//! password change or "sign out everywhere else" cuts off offline access elsewhere, the
//! account page lists (and removes) apps that stay signed in, its password checks share
//! the login's lockout and per-IP limit, oversized identifiers are never stored, the
//! janitor purges abandoned sign-ups and stale failure counts, anonymous /authorize hits
//! are limited per IP, link mails wait in the outbox without a live link, names with
//! control characters are refused, reset tokens never reach Set-Cookie, and the link cap
//! neither silences security notices nor kills the last link sent.
//!
//! Black-box: a real Gatehouse on loopback, real HTTP, mail from the real SMTP sink (or a
//! silent SMTP server), the database read only to show what is (not) stored, and time
//! moved with the test clock.

use crate::helpers::*;
use crate::on_both_backends;
use crate::on_both_backends_with;
use gatehouse::config::RawConfig;
use gatehouse::store::Store;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const NEW_PASSWORD: &str = "quiet lantern orbit meadow";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Alice, signed in on the bare login page.
async fn signed_in(app: &TestApp) -> Browser {
    signed_in_browser(app, &app.user.username, PASSWORD).await
}

/// The status and page of a fresh browser's login attempt.
async fn login(app: &TestApp, identifier: &str, password: &str) -> (u16, String) {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    let response = browser.submit_login(&html, identifier, password).await;
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// Signs in through the app's authorization request in `browser` (or reuses its
/// session) and returns an offline_access refresh token held in that session.
async fn offline_refresh_token(app: &TestApp, browser: &Browser) -> String {
    let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
    let first = browser.get(&url).await;
    let to = match location(first.headers()) {
        Some(next) if next.starts_with("/login") => browser.sign_in(&url, &app.user.username, PASSWORD).await,
        Some(to) => to,
        None => panic!("authorize answered {} without a redirect", first.status()),
    };
    let code = query_param(&to, "code").unwrap_or_else(|| panic!("a code in {to}"));
    let response = app.redeem(&app.client, &code, &verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: Value = response.json().await.unwrap();
    assert!(
        tokens["scope"].as_str().unwrap_or_default().contains("offline_access"),
        "{tokens}"
    );
    tokens["refresh_token"].as_str().expect("a refresh token").to_string()
}

/// Refreshes: Ok(the new refresh token) or Err(the OAuth error).
async fn refresh(app: &TestApp, token: &str) -> Result<String, String> {
    let response = app.refresh(&app.client, token, &[]).await;
    if response.status() == 200 {
        let body: Value = response.json().await.unwrap();
        Ok(body["refresh_token"].as_str().unwrap_or(token).to_string())
    } else {
        Err(oauth_error(response).await.1)
    }
}

/// Submits a form of the account page with the session's CSRF token: status and page.
async fn account_form(app: &TestApp, browser: &Browser, action: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let html = browser.get("/account").await.text().await.unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token"))];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let response = browser.http.post(app.url(action)).form(&form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

async fn change_password(app: &TestApp, browser: &Browser, current: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut fields = vec![
        ("current_password", current),
        ("password", NEW_PASSWORD),
        ("password_confirm", NEW_PASSWORD),
    ];
    fields.extend_from_slice(extra);
    account_form(app, browser, "/account/password", &fields).await
}

async fn change_email(app: &TestApp, browser: &Browser, current: &str, email: &str) -> (u16, String) {
    account_form(
        app,
        browser,
        "/account/email",
        &[("email", email), ("current_password", current)],
    )
    .await
}

/// Fills in the forgot-password form in a fresh browser.
async fn request_reset(app: &TestApp, identifier: &str) {
    let browser = app.browser();
    let html = browser.get("/forgot").await.text().await.unwrap();
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token")),
        ("identifier", identifier.to_string()),
    ];
    let response = browser.http.post(app.url("/forgot")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200, "the forgot form answers");
}

/// Fills in the signup form in `browser`.
async fn sign_up(app: &TestApp, browser: &Browser, given_name: &str, username: &str, email: &str) -> (u16, String) {
    let html = browser.get("/signup").await.text().await.unwrap();
    let form = [
        ("csrf_token", hidden_input(&html, "csrf_token").expect("csrf token")),
        ("given_name", given_name.to_string()),
        ("family_name", "Example".to_string()),
        ("username", username.to_string()),
        ("email", email.to_string()),
        ("password", NEW_PASSWORD.to_string()),
        ("password_confirm", NEW_PASSWORD.to_string()),
    ];
    let response = browser.http.post(app.url("/signup")).form(&form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// The `n`th (1-based) message to `to` about `subject`, waiting for the mail worker.
async fn nth_mail(app: &TestApp, to: &str, subject: &str, n: usize) -> crate::smtp::Mail {
    app.mail.wait_for_nth(to, subject, n).await
}

fn mails_about(app: &TestApp, to: &str, subject: &str) -> usize {
    app.mail
        .all()
        .iter()
        .filter(|m| m.to == to && m.subject.contains(subject))
        .count()
}

/// Opens a reset link in `browser` (the token moves into the /reset cookie) and returns
/// the status of the reset page it leads to: 200 with the form, 400 for a dead link.
async fn open_reset_link(browser: &Browser, link: &str) -> u16 {
    let moved = browser.get(link).await;
    if moved.status() != 302 {
        return moved.status().as_u16();
    }
    assert_eq!(location(moved.headers()).as_deref(), Some("/reset"));
    browser.get("/reset").await.status().as_u16()
}

/// Opens a reset link and sets NEW_PASSWORD with it: the status of the final page.
async fn reset_with_link(app: &TestApp, link: &str) -> u16 {
    let browser = app.browser();
    assert_eq!(
        open_reset_link(&browser, link).await,
        200,
        "the link shows the reset form"
    );
    let html = browser.get("/reset").await.text().await.unwrap();
    let csrf = hidden_input(&html, "csrf_token").expect("csrf token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("password", NEW_PASSWORD),
        ("password_confirm", NEW_PASSWORD),
    ];
    browser
        .http
        .post(app.url("/reset"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The "Apps that stay signed in" section of the account page.
fn offline_section(html: &str) -> &str {
    let start = html
        .find("id=\"offline-h\"")
        .expect("the 'Apps that stay signed in' section");
    let end = html[start..].find("</section>").map_or(html.len(), |e| start + e);
    &html[start..end]
}

async fn count(store: &Store, sql: &str, binds: &[&str]) -> i64 {
    let mut query = sqlx::query_as::<_, (i64,)>(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let (n,) = query
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

async fn failure_keys(store: &Store) -> Vec<String> {
    sqlx::query_as::<_, (String,)>("SELECT identifier_key FROM login_failures")
        .fetch_all(store.pool())
        .await
        .expect("read login_failures")
        .into_iter()
        .map(|(k,)| k)
        .collect()
}

fn small_rate_limit(raw: &mut RawConfig) {
    raw.accounts.rate_limit_per_minute = 3;
}

fn three_parked_per_minute(raw: &mut RawConfig) {
    raw.accounts.parked_requests_per_minute = 3;
}

fn two_links_per_hour(raw: &mut RawConfig) {
    raw.accounts.mail_per_recipient_per_hour = 2;
}

mod link_mails;
mod offline_access;
mod password_checks;
mod stored_input;
mod syntax;
