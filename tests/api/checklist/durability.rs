//! Checklist rows about state that must hold up: concurrent sign-ups for one address or
//! username (G3), a reset mail during an SMTP outage (G8), and refresh-token rotation
//! seen by a freshly started server on the same database (A18).

use super::*;
use crate::on_both_backends;
use crate::smtp::SmtpSink;
use gatehouse::config::{HashingSettings, MailSettings, RawConfig};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Barrier;

/// Sign-ups from one address many times over: the per-IP limit out of the way.
fn unlimited(raw: &mut RawConfig) {
    raw.accounts.rate_limit_per_minute = 10_000;
}

/// The SMTP server is down: nothing listens on the configured port (yet).
fn smtp_down(raw: &mut RawConfig) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
}

/// `(username, email)` sign-ups, each from its own browser, POSTed at the same moment.
/// Returns each one's status and page.
async fn signups_at_once(app: &TestApp, who: &[(String, String)]) -> Vec<(u16, String)> {
    let barrier = Arc::new(Barrier::new(who.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (username, email)) in who.iter().enumerate() {
        let browser = app.browser();
        let html = browser.get("/signup").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("given_name", "Carol".to_string()),
            ("family_name", "Example".to_string()),
            ("username", username.clone()),
            ("email", email.clone()),
            ("password", NEW_PASSWORD.to_string()),
            ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        let (barrier, url) = (barrier.clone(), app.url("/signup"));
        tasks.spawn(async move {
            barrier.wait().await;
            let response = browser.http.post(url).form(&form).send().await.unwrap();
            (i, response.status().as_u16(), response.text().await.unwrap())
        });
    }
    let mut answers = tasks.join_all().await;
    answers.sort_by_key(|(i, _, _)| *i);
    answers.into_iter().map(|(_, status, page)| (status, page)).collect()
}

/// The accounts whose row mentions `needle` (case-insensitive).
async fn accounts_mentioning(app: &TestApp, needle: &str) -> usize {
    rows_of(&app.store, "users")
        .await
        .iter()
        .filter(|row| row.to_lowercase().contains(&needle.to_lowercase()))
        .count()
}

async fn outbox_empty(app: &TestApp) {
    for _ in 0..100 {
        if app.store.pending_mail_count().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the outbox never drained");
}

on_both_backends_with! { unlimited;
    async fn g3_concurrent_signups_for_one_email_or_username_make_one_account(app) {
        const N: usize = 8;
        // The same username and email, N times.
        let same: Vec<(String, String)> = (0..N).map(|_| ("gina".to_string(), "gina@example.com".to_string())).collect();
        let answers = signups_at_once(&app, &same).await;
        assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 400), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
        assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 1, "one sign-up goes through");
        for (_, page) in answers.iter().filter(|(s, _)| *s == 400) {
            assert!(page.contains("That username is taken"), "{page}");
        }
        assert_eq!(accounts_mentioning(&app, "gina").await, 1);

        // One email (in varying case), different usernames: every answer is the same.
        let one_email: Vec<(String, String)> = (0..N)
            .map(|i| (format!("hal{i}"), if i % 2 == 0 { "hal@example.com".into() } else { "Hal@Example.COM".into() }))
            .collect();
        let answers = signups_at_once(&app, &one_email).await;
        for (status, page) in &answers {
            assert_eq!(*status, 200, "{page}");
            assert!(page.contains("Check your email"), "{page}");
        }
        assert_eq!(accounts_mentioning(&app, "hal@example.com").await, 1);
        outbox_empty(&app).await;
        let confirmations = app.mail.all().iter().filter(|m| m.to.eq_ignore_ascii_case("hal@example.com") && m.subject.contains("Confirm your email")).count();
        assert_eq!(confirmations, 1, "one account, one confirmation link");

        // One username in varying case and width, different emails.
        let one_name: Vec<(String, String)> = ["ivy", "IVY", "Ivy", "ｉｖｙ", "ivy", "iVy"]
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), format!("ivy{i}@example.com")))
            .collect();
        let answers = signups_at_once(&app, &one_name).await;
        assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 1, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
        for (status, page) in &answers {
            assert!(*status == 200 || page.contains("That username is taken"), "{status}: {page}");
        }
        let users = rows_of(&app.store, "users").await;
        let ivys = users.iter().filter(|r| (0..6).any(|i| r.contains(&format!("ivy{i}@example.com")))).count();
        assert_eq!(ivys, 1, "{users:?}");
    }
}

on_both_backends_with! { smtp_down;
    async fn g8_a_reset_mail_waits_out_an_smtp_outage_and_its_link_works(app) {
        let url = app.state.config.mail.smtp_url.as_ref().unwrap().expose_secret().to_string();
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let response = request_reset(&app, &app.browser(), "alice").await;
        assert_eq!(response.status(), 200, "the answer does not wait for, or fail with, the mail server");
        // Queued, tried and failed at least once.
        let mut attempts = 0;
        for _ in 0..100 {
            let rows: Vec<(i64,)> = sqlx::query_as("SELECT attempts FROM mail_outbox").fetch_all(app.store.pool()).await.unwrap();
            attempts = rows.first().map_or(0, |r| r.0);
            if attempts >= 1 { break; }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(attempts >= 1, "the reset mail was tried while SMTP was down");
        assert_eq!(app.store.pending_mail_count().await.unwrap(), 1, "and kept in the outbox");

        // The server comes back; once the retry is due, the worker delivers.
        let sink = SmtpSink::start_on(port).await;
        app.clock.advance(2 * 3600);
        let mail = sink.wait_for("alice@example.com", "Reset your").await;
        outbox_empty(&app).await;
        assert_eq!(sink.count_to("alice@example.com"), 1, "delivered once");

        // Its link (issued as it was sent) resets the password.
        let browser = app.browser();
        let moved = browser.get(&mail.link()).await;
        assert_eq!(location(moved.headers()).as_deref(), Some("/reset"));
        let html = browser.get("/reset").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").expect("the reset form")),
            ("password", NEW_PASSWORD.to_string()),
            ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        assert_eq!(browser.http.post(app.url("/reset")).form(&form).send().await.unwrap().status(), 200);
        assert_eq!(login_status(&app, "alice", NEW_PASSWORD).await, 303);
    }
}

/// Starts a second Gatehouse on the test's database and keys, with the same issuer and
/// clock, as a restart would; returns its base URL. It has none of the first one's memory.
async fn restarted(app: &TestApp) -> String {
    let config = gatehouse::Config::from_raw(RawConfig {
        listen: "127.0.0.1:0".into(),
        issuer: app.base.clone(),
        database_url: app.state.config.database_url.expose_secret().to_string(),
        keys_dir: app.dir.path().join("keys"),
        password_hashing: HashingSettings {
            memory_kib: 8192,
            iterations: 1,
            max_concurrent: 0,
        },
        mail: MailSettings {
            smtp_url: Some(app.mail.url().into()),
            ..Default::default()
        },
        ..RawConfig::default()
    })
    .expect("config of the restarted server");
    let second = gatehouse::App::build(config, app.clock.clone())
        .await
        .expect("the restarted server starts");
    let base = format!("http://{}", second.local_addr().unwrap());
    tokio::spawn(second.serve());
    base
}

/// Refreshes `token` as the test app's confidential client at the server at `base`:
/// Ok(the token response) or Err(the error).
async fn refresh_at(app: &TestApp, base: &str, token: &str) -> Result<Value, String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(&app.client.id, app.client.secret.as_ref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    if response.status() == 200 {
        Ok(response.json().await.unwrap())
    } else {
        Err(oauth_error(response).await.1)
    }
}

fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().unwrap().to_string()
}

on_both_backends! {
    async fn a18_rotated_out_refresh_tokens_stay_refused_after_a_restart(app) {
        let offline = [("scope", "openid offline_access")];
        // One family rotated twice in a row (RT1 -> RT2 -> RT3), another left alone.
        let rt1 = refresh_token(&app.tokens_with(&app.client, &offline).await);
        let rt2 = refresh_token(&refresh_at(&app, &app.base, &rt1).await.unwrap());
        let latest = refresh_at(&app, &app.base, &rt2).await.unwrap();
        let rt3 = refresh_token(&latest);
        let access_token = latest["access_token"].as_str().unwrap().to_string();
        let other = refresh_token(&app.tokens_with(&app.client, &offline).await);

        let second = restarted(&app).await;
        let userinfo = |token: String| {
            let url = format!("{second}/userinfo");
            async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(userinfo(access_token.clone()).await, 200, "the restarted server knows the live tokens");
        // The rotated-out tokens are refused, and the replay revokes the family, its live
        // token and that token's access token included.
        assert_eq!(refresh_at(&app, &second, &rt2).await, Err("invalid_grant".to_string()), "RT2 was rotated out");
        assert_eq!(refresh_at(&app, &second, &rt1).await, Err("invalid_grant".to_string()), "RT1 was rotated out");
        assert_eq!(refresh_at(&app, &second, &rt3).await, Err("invalid_grant".to_string()), "the family is revoked");
        assert_eq!(userinfo(access_token).await, 401);

        // The other family refreshes at the restarted server, and its reuse is caught there.
        let next = refresh_token(&refresh_at(&app, &second, &other).await.expect("a live family refreshes"));
        assert_eq!(refresh_at(&app, &second, &other).await, Err("invalid_grant".to_string()));
        assert_eq!(refresh_at(&app, &second, &next).await, Err("invalid_grant".to_string()));
        // The first server, on the same database, agrees.
        assert_eq!(refresh_at(&app, &app.base, &next).await, Err("invalid_grant".to_string()));
    }
}

/// G6: PostgreSQL goes away under a running server (here: its database refuses every
/// connection and the open ones are cut, as in a restart). While it is away the server
/// answers 503, never a 500 with SQL in it, `/readyz` is red (`/healthz` stays green), and once the database is
/// back the same process serves again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g6_a_database_outage_answers_503_and_the_server_recovers_without_a_restart() {
    use sqlx::Connection;
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let url = app.state.config.database_url.expose_secret().to_string();
    // Our own connection, opened before the outage, to cause it and end it.
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin connection");
    let (code, verifier) = app.code_for(&app.client).await;
    let db: (String,) = sqlx::query_as("SELECT current_database()")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("ALTER DATABASE \"{}\" CONNECTION LIMIT 0", db.0))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        .execute(&mut admin)
        .await
        .unwrap();

    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503, "readiness is red while the database is away");
    let alive = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(
        alive.status(),
        200,
        "liveness stays green: the process needs no restart"
    );
    let token = app.redeem(&app.client, &code, &verifier).await;
    assert_eq!(token.status(), 503);
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let page = app.browser().get("/login?return_to=/account").await;
    assert!(page.status() == 200 || page.status() == 503, "{}", page.status());

    sqlx::query(&format!("ALTER DATABASE \"{}\" CONNECTION LIMIT -1", db.0))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut back = false;
    for _ in 0..50 {
        if reqwest::get(app.url("/readyz")).await.unwrap().status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(back, "the pool reconnects once the database is back");
    // The code was not spent by the failed attempt: the exchange works now.
    assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 200);
}

fn one_connection(raw: &mut RawConfig) {
    raw.database.max_connections = 1;
    raw.database.acquire_timeout_secs = 1;
}

crate::on_both_backends_with! { one_connection;
    /// G7: every pooled connection is taken (here: the only one, held by the test). A
    /// request waits `database.acquire_timeout_secs`, then gets 503 with Retry-After
    /// (`temporarily_unavailable` at /token, a page elsewhere), never a 500 or a hang;
    /// once the connection is free the same code is redeemed.
    async fn g7_an_exhausted_pool_answers_503_with_retry_after_and_loses_nothing(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let held = app.store.pool().acquire().await.expect("the only connection");
        let token = app.redeem(&app.client, &code, &verifier).await;
        assert_eq!(token.status(), 503);
        assert_eq!(token.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
        let body: Value = token.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        // A page that needs the database (it looks the sign-in request up) is a page too.
        let page = reqwest::get(app.url("/login?request_id=some-request")).await.unwrap();
        assert_eq!(page.status(), 503);
        let html = page.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(html.as_deref(), Some("text/html; charset=utf-8"));
        assert!(page.text().await.unwrap().contains("Temporarily unavailable"));
        let ready = reqwest::get(app.url("/readyz")).await.unwrap();
        assert_eq!(ready.status(), 503, "not ready while no connection is free");
        drop(held);
        assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 200, "the code was not spent");
    }
}
