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

/// Waits (bounded, for the mail worker) until `n` messages to `to` about `subject` arrived;
/// returns the `n`th (1-based).
async fn nth_mail(app: &TestApp, to: &str, subject: &str, n: usize) -> crate::smtp::Mail {
    for _ in 0..100 {
        let matching: Vec<_> = app
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

// ---------------------------------------------------------------------------------------
// 1, 2, 3: offline access and the account page
// ---------------------------------------------------------------------------------------

on_both_backends! {
    async fn offline_refresh_tokens_die_when_the_password_changes_on_the_account_page(app) {
        let b = app.browser();
        let offline = offline_refresh_token(&app, &b).await;
        let a = signed_in(&app).await;
        let (status, html) = change_password(&app, &a, PASSWORD, &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Password changed."), "{html}");

        assert_eq!(refresh(&app, &offline).await, Err("invalid_grant".to_string()), "the thief's app is cut off");
        assert_eq!(b.get("/account").await.status(), 302, "the other session is gone");
        assert!(location(b.get("/account").await.headers()).unwrap_or_default().starts_with("/login"));
        assert_eq!(a.get("/account").await.status(), 200, "the session that changed it stays");
        app.mail.wait_for(&app.user.email, "password was changed").await;
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 303);
    }

    async fn keep_me_signed_in_elsewhere_keeps_offline_refresh_tokens_and_sessions(app) {
        let b = app.browser();
        let offline = offline_refresh_token(&app, &b).await;
        let a = signed_in(&app).await;
        let (status, html) = change_password(&app, &a, PASSWORD, &[("keep_others", "1")]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Password changed."), "{html}");

        assert!(refresh(&app, &offline).await.is_ok(), "the app stays signed in");
        assert_eq!(b.get("/account").await.status(), 200, "the other session stays signed in");
        assert_eq!(a.get("/account").await.status(), 200);
        app.mail.wait_for(&app.user.email, "password was changed").await;
    }

    async fn sign_out_everywhere_else_revokes_offline_access_of_other_sessions(app) {
        let b = app.browser();
        let elsewhere = offline_refresh_token(&app, &b).await;
        let a = app.browser();
        let here = offline_refresh_token(&app, &a).await;
        assert_eq!(a.get("/account").await.status(), 200, "A is signed in");

        let (status, html) = account_form(&app, &a, "/account/sessions/end", &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Signed out of 1 other session(s)."), "{html}");

        assert_eq!(refresh(&app, &elsewhere).await, Err("invalid_grant".to_string()), "B's app is signed out");
        assert_eq!(b.get("/account").await.status(), 302, "B's session is gone");
        assert!(refresh(&app, &here).await.is_ok(), "the app of this session keeps offline access");
        assert_eq!(a.get("/account").await.status(), 200, "A stays signed in");
    }

    async fn account_page_lists_offline_apps_and_removing_one_revokes_it(app) {
        let b = app.browser();
        let offline = offline_refresh_token(&app, &b).await;
        let browser = signed_in(&app).await;
        let html = browser.get("/account").await.text().await.unwrap();
        let section = offline_section(&html);
        assert!(section.contains("Apps that stay signed in"), "{section}");
        assert!(section.contains("Test App"), "the first-party app is listed by name: {section}");
        assert_eq!(hidden_input(section, "client_id").as_deref(), Some(app.client.id.as_str()));
        assert_eq!(hidden_input(section, "return_to").as_deref(), Some("/account"));

        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("client_id", app.client.id.clone()),
            ("return_to", "/account".to_string()),
        ];
        let removed = browser.http.post(app.url("/account/consents/revoke")).form(&form).send().await.unwrap();
        assert_eq!(removed.status(), 302);
        assert_eq!(location(removed.headers()).as_deref(), Some("/account"), "back to the account page");

        assert_eq!(refresh(&app, &offline).await, Err("invalid_grant".to_string()), "the app is signed out");
        let html = browser.get("/account").await.text().await.unwrap();
        let section = offline_section(&html);
        assert!(!section.contains("Test App"), "no longer listed: {section}");
        assert!(section.contains("No app holds offline access"), "{section}");
    }
}

// ---------------------------------------------------------------------------------------
// 4: the account page's password checks
// ---------------------------------------------------------------------------------------

on_both_backends! {
    async fn account_page_password_checks_are_locked_out_like_login(app) {
        let browser = signed_in(&app).await;
        // Five free failures, on either form: they count against one lockout.
        for i in 0..5 {
            let (status, html) = if i % 2 == 0 {
                change_password(&app, &browser, "wrong password", &[]).await
            } else {
                change_email(&app, &browser, "wrong password", "alice@new.example").await
            };
            assert_eq!(status, 400, "failure {i}");
            assert!(html.contains("Your current password is not correct."), "failure {i}: {html}");
        }
        // Locked now: even the right password is refused, on both forms and at login.
        let (status, html) = change_password(&app, &browser, PASSWORD, &[]).await;
        assert_eq!(status, 400);
        assert!(html.contains("Too many failed attempts"), "{html}");
        let (status, html) = change_email(&app, &browser, PASSWORD, "alice@new.example").await;
        assert_eq!(status, 400);
        assert!(html.contains("Too many failed attempts"), "{html}");
        let (status, html) = login(&app, "alice", PASSWORD).await;
        assert_eq!(status, 429, "the login page shares the lockout");
        assert!(html.contains("Too many failed attempts"));
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 429, "the password was not changed");

        // Past the lock the owner gets in.
        app.clock.advance(31);
        let (status, html) = change_password(&app, &browser, PASSWORD, &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Password changed."), "{html}");
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 303);
    }
}

on_both_backends_with! { small_rate_limit;
    async fn account_page_password_checks_share_the_per_ip_limit(app) {
        let browser = signed_in(&app).await;
        for i in 0..3 {
            let (status, html) = change_password(&app, &browser, "wrong password", &[]).await;
            assert_eq!(status, 400, "attempt {i}");
            assert!(html.contains("Your current password is not correct."), "attempt {i}: {html}");
        }
        // Three checks a minute from this address: the fourth is not even checked.
        let (status, html) = change_password(&app, &browser, PASSWORD, &[]).await;
        assert_eq!(status, 400);
        assert!(html.contains("Too many attempts"), "{html}");
        assert!(!html.contains("Password changed."), "{html}");
        let (status, html) = change_email(&app, &browser, PASSWORD, "alice@new.example").await;
        assert_eq!(status, 400);
        assert!(html.contains("Too many attempts"), "{html}");

        app.clock.advance(61);
        let (status, html) = change_password(&app, &browser, PASSWORD, &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Password changed."), "{html}");
    }
}

// ---------------------------------------------------------------------------------------
// 5, 6: what the failure counts and sign-ups leave in the database
// ---------------------------------------------------------------------------------------

on_both_backends! {
    async fn oversized_login_identifiers_are_not_stored(app) {
        let oversized = "q".repeat(300);
        let (status, html) = login(&app, &oversized, "wrong password").await;
        assert_eq!(status, 401, "{html}");
        assert!(html.contains("csrf_token"), "the login page again");
        let keys = failure_keys(&app.store).await;
        assert!(keys.iter().all(|k| k.chars().count() <= 254 && !k.contains("qqqq")), "{keys:?}");

        // A normal unknown identifier is counted (so throttling reveals nothing).
        assert_eq!(login(&app, "nobody-here", "wrong password").await.0, 401);
        let keys = failure_keys(&app.store).await;
        assert_eq!(keys, ["nobody-here"], "only the storable identifier has a row");
    }

    async fn janitor_purges_unconfirmed_signups_and_stale_login_failures(app) {
        let (status, html) = sign_up(&app, &app.browser(), "Carol", "carol", "carol@example.com").await;
        assert_eq!(status, 200, "{html}");
        nth_mail(&app, "carol@example.com", "Confirm your email", 1).await;
        assert_eq!(login(&app, "old-ghost", "wrong password").await.0, 401);
        let users = "SELECT COUNT(*) FROM users WHERE email = $1";
        assert_eq!(count(&app.store, users, &["carol@example.com"]).await, 1);

        // A sweep within the day keeps both.
        gatehouse::janitor::sweep(&app.state).await;
        assert_eq!(count(&app.store, users, &["carol@example.com"]).await, 1);
        assert_eq!(failure_keys(&app.store).await, ["old-ghost"]);

        app.clock.advance(24 * 3600 + 60);
        assert_eq!(login(&app, "fresh-ghost", "wrong password").await.0, 401);
        gatehouse::janitor::sweep(&app.state).await;

        assert_eq!(count(&app.store, users, &["carol@example.com"]).await, 0, "the unconfirmed sign-up is gone");
        assert_eq!(failure_keys(&app.store).await, ["fresh-ghost"], "a day-old count is gone, a fresh one stays");
        assert_eq!(login(&app, "alice", PASSWORD).await.0, 303, "confirmed accounts stay");

        // The address is free again: a new sign-up gets a new confirmation.
        let (status, html) = sign_up(&app, &app.browser(), "Carol", "carol", "carol@example.com").await;
        assert_eq!(status, 200, "{html}");
        let link = nth_mail(&app, "carol@example.com", "Confirm your email", 2).await.link();
        assert!(link.contains("/signup/confirm?token="), "{link}");
        assert_eq!(mails_about(&app, "carol@example.com", "already have"), 0);
        assert_eq!(count(&app.store, users, &["carol@example.com"]).await, 1);
    }
}

// ---------------------------------------------------------------------------------------
// 7: anonymous /authorize
// ---------------------------------------------------------------------------------------

on_both_backends_with! { three_parked_per_minute;
    async fn anonymous_authorize_requests_are_limited_per_ip(app) {
        let parked = || async {
            let (url, _) = app.authorize_url(&app.client, &[]);
            let response = app.browser().get(&url).await;
            location(response.headers()).unwrap_or_else(|| panic!("a redirect, got {}", response.status()))
        };
        let rows = "SELECT COUNT(*) FROM authorization_requests";
        for i in 0..3 {
            let to = parked().await;
            assert!(to.starts_with("/login?request_id="), "request {i}: {to}");
        }
        let to = parked().await;
        assert!(to.starts_with(CONFIDENTIAL_REDIRECT), "back to the client's redirect URI: {to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some("temporarily_unavailable"), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"), "{to}");
        assert_eq!(count(&app.store, rows, &[]).await, 3, "the refused request stored nothing");

        app.clock.advance(60);
        let to = parked().await;
        assert!(to.starts_with("/login?request_id="), "a minute later it parks again: {to}");
        assert_eq!(count(&app.store, rows, &[]).await, 4);
    }
}

// ---------------------------------------------------------------------------------------
// 8: link mails and the outbox
// ---------------------------------------------------------------------------------------

/// An SMTP server that accepts connections and never says a word: a delivery to it hangs
/// (until the mailer's timeout), so the mail worker is held inside one send. Returns its
/// port and how many connections it accepted.
async fn silent_smtp() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

async fn link_mail_waits_in_the_outbox_without_a_live_link(backend: Backend) {
    let (port, accepted) = silent_smtp().await;
    let Some(app) = spawn_app_with(backend, |raw| {
        raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await
    else {
        return;
    };
    // Bob's reset mail goes first and holds the worker in a send that never completes.
    let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
    request_reset(&app, "bob").await;
    for _ in 0..100 {
        if accepted.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(accepted.load(Ordering::SeqCst) > 0, "the worker is sending bob's mail");

    // Alice's reset mail waits in the outbox, not yet sent.
    request_reset(&app, "alice").await;
    let mut queued = Vec::new();
    for _ in 0..100 {
        queued =
            sqlx::query_as::<_, (String, String)>("SELECT body_text, body_html FROM mail_outbox WHERE recipient = $1")
                .bind(&app.user.email)
                .fetch_all(app.store.pool())
                .await
                .expect("read mail_outbox");
        if !queued.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(queued.len(), 1, "alice's reset mail is in the outbox");
    let (text, html) = &queued[0];
    let slot = gatehouse::mail::LINK_TOKEN_SLOT;
    let placeholder_link = format!("{}/reset?token={slot}", app.base);
    assert!(
        text.contains(&placeholder_link),
        "the body holds the placeholder: {text}"
    );
    assert!(html.contains(slot), "the HTML part too");
    let queued_link = text[text.find("http").expect("a link")..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        query_param(&queued_link, "token").as_deref(),
        Some(slot),
        "no token in the stored link"
    );
    assert_eq!(
        open_reset_link(&app.browser(), &queued_link).await,
        400,
        "the stored link is dead"
    );

    let tokens = "SELECT COUNT(*) FROM email_tokens WHERE user_id = $1 AND purpose = 'reset'";
    assert_eq!(
        count(&app.store, tokens, &[&app.user.id]).await,
        0,
        "alice's token is issued only as it is sent"
    );
    assert_eq!(
        count(&app.store, tokens, &[&bob.id]).await,
        0,
        "bob's, still being sent, has none yet: a token is stored once its mail is accepted"
    );
}

mod link_mail_waits_in_the_outbox_without_a_live_link {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        link_mail_waits_in_the_outbox_without_a_live_link(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        link_mail_waits_in_the_outbox_without_a_live_link(Backend::Postgres).await
    }
}

on_both_backends! {
    async fn a_sent_link_mail_carries_a_live_link(app) {
        request_reset(&app, "alice").await;
        let mail = app.mail.wait_for(&app.user.email, "Reset your").await;
        assert!(!mail.text.contains(gatehouse::mail::LINK_TOKEN_SLOT), "{}", mail.text);
        let link = mail.link();
        assert!(link.starts_with(&format!("{}/reset?token=", app.base)), "{link}");
        assert_eq!(reset_with_link(&app, &link).await, 200, "the emailed link sets a new password");
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 303);
        assert_eq!(open_reset_link(&app.browser(), &link).await, 400, "once");
    }
}

// ---------------------------------------------------------------------------------------
// 9, 10: names and reset tokens that carry syntax
// ---------------------------------------------------------------------------------------

on_both_backends! {
    async fn names_with_control_characters_are_refused(app) {
        let injected = "Ada\nBcc: x@evil.example";
        let (status, html) = sign_up(&app, &app.browser(), injected, "ada", "ada@example.com").await;
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("Names cannot contain line breaks or control characters."), "{html}");
        let users = "SELECT COUNT(*) FROM users WHERE email = $1";
        assert_eq!(count(&app.store, users, &["ada@example.com"]).await, 0, "no account");

        let browser = signed_in(&app).await;
        for name in [injected, "Ada\u{2028}Bcc: x@evil.example", "Ada\rBcc: x@evil.example", "Ada\tLovelace"] {
            let (status, html) = account_form(&app, &browser, "/account/profile", &[
                ("given_name", name), ("family_name", "Liddell"), ("username", "alice"),
            ]).await;
            assert_eq!(status, 400, "{name:?}: {html}");
            assert!(html.contains("Names cannot contain line breaks or control characters."), "{name:?}: {html}");
            assert!(!html.contains("Profile saved."));
        }
        let stored: (String,) = sqlx::query_as("SELECT given_name FROM users WHERE id = $1")
            .bind(&app.user.id)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(stored.0, "Alice", "the stored name is unchanged");
        let html = browser.get("/account").await.text().await.unwrap();
        assert!(html.contains("value=\"Alice\""), "the account page shows the stored name");
        assert!(!html.contains("Bcc"), "{html}");
    }

    async fn reset_token_with_cookie_syntax_never_reaches_set_cookie(app) {
        let padded = format!("{};Domain=evil.example", "A".repeat(23));
        assert_eq!(padded.len(), 43, "the length of a real token");
        for query in ["x;%20Domain=evil.example", padded.as_str(), "x%3B%20Domain%3Devil.example%3B%20Path%3D%2F"] {
            let response = app.browser().get(&format!("/reset?token={query}")).await;
            let cookies: Vec<String> = response
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .collect();
            for cookie in &cookies {
                let lower = cookie.to_ascii_lowercase();
                assert!(!lower.contains("domain") && !lower.contains("evil"), "{query}: {cookie}");
                assert!(!lower.contains("gatehouse_reset="), "{query}: no reset cookie at all: {cookie}");
            }
            assert_eq!(response.status(), 400, "{query}: the expired-link page");
            let html = response.text().await.unwrap();
            assert!(html.contains("This link has expired"), "{query}: {html}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 11: the per-recipient link cap (issue 15)
// ---------------------------------------------------------------------------------------

on_both_backends! {
    async fn security_notices_are_not_dropped_by_the_link_cap(app) {
        // Anyone can spend the address's link share with the forgot form.
        for _ in 0..6 {
            request_reset(&app, "alice").await;
        }
        nth_mail(&app, &app.user.email, "Reset your", 5).await;

        let browser = signed_in(&app).await;
        let (status, html) = change_email(&app, &browser, PASSWORD, "alice@new.example").await;
        assert_eq!(status, 200, "{html}");
        nth_mail(&app, "alice@new.example", "Confirm your new email", 1).await;
        app.mail.wait_for(&app.user.email, "email address is changing").await;

        let (status, html) = change_password(&app, &browser, PASSWORD, &[]).await;
        assert_eq!(status, 200, "{html}");
        app.mail.wait_for(&app.user.email, "password was changed").await;
        assert_eq!(mails_about(&app, &app.user.email, "Reset your"), 5, "the link cap itself still holds");
    }
}

on_both_backends_with! { two_links_per_hour;
    async fn a_capped_resend_keeps_the_last_link_alive(app) {
        request_reset(&app, "alice").await;
        nth_mail(&app, &app.user.email, "Reset your", 1).await;
        request_reset(&app, "alice").await;
        let second = nth_mail(&app, &app.user.email, "Reset your", 2).await.link();
        // Over the cap: nothing is sent. Bob's reset, asked for afterwards, marks when the
        // capped request has been handled.
        request_reset(&app, "alice").await;
        create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;
        request_reset(&app, "bob").await;
        nth_mail(&app, "bob@example.com", "Reset your", 1).await;
        assert_eq!(mails_about(&app, &app.user.email, "Reset your"), 2, "the third request sent nothing");

        assert_eq!(reset_with_link(&app, &second).await, 200, "the last link sent still sets a new password");
        assert_eq!(login(&app, "alice", NEW_PASSWORD).await.0, 303);
    }
}

// ---------------------------------------------------------------------------------------
// F2: credential stuffing from many addresses meets a limit for everyone
// ---------------------------------------------------------------------------------------

fn global_limit_of_three(raw: &mut RawConfig) {
    raw.accounts.rate_limit_per_minute = 100;
    raw.accounts.global_rate_limit_per_minute = 3;
    // Loopback is the proxy, so each attempt can come from its own client address.
    raw.accounts.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

on_both_backends_with! { global_limit_of_three;
    async fn f2_login_attempts_from_many_addresses_meet_a_global_limit(app) {
        let mut statuses = Vec::new();
        for i in 1..=4 {
            let browser = app.browser();
            let html = browser.get("/login").await.text().await.unwrap();
            let form = [
                ("identifier", format!("victim{i}")),
                ("password", "guess".to_string()),
                ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ];
            let response = browser
                .http
                .post(app.url("/login"))
                .header("x-forwarded-for", format!("203.0.113.{i}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            statuses.push((response.status().as_u16(), response.headers().get("retry-after").is_some()));
        }
        assert_eq!(statuses, vec![(401, false), (401, false), (401, false), (429, true)], "each address is new; the fourth attempt overall is refused");
        // Other actions have their own count.
        assert_eq!(app.browser().get("/forgot").await.status(), 200);
    }
}
