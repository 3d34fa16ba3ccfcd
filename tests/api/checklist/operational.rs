//! Checklist section H, operational: no secret in the logs at TRACE (H1), a failing
//! database answered with a generic 5xx that carries no internals (H2/H3), and no raw
//! secret anywhere in the database (H4).

use super::*;
use crate::on_both_backends;
use base64::Engine;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// Runs the `gatehouse` binary to completion in `dir`; it must succeed.
fn gatehouse(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let output = crate::cli::gatehouse(dir, args, env, stdin);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The values of every cookie `browser` holds for Gatehouse.
fn cookie_values(browser: &Browser) -> Vec<String> {
    browser
        .cookies()
        .split("; ")
        .filter_map(|c| c.split_once('='))
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The real binary at TRACE with JSON logs: sign-in with offline_access, code exchange and
/// refresh with `Authorization: Basic`, userinfo, introspection, a password reset through
/// its emailed link, a signup through its confirmation link. None of the secrets those
/// involve may appear in the log output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_no_secret_of_a_full_flow_reaches_the_logs_at_trace() {
    let dir = tempfile::tempdir().unwrap();
    let sink = crate::smtp::SmtpSink::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let env = [
        ("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}")),
        ("GATEHOUSE_ISSUER", issuer.clone()),
        ("GATEHOUSE_MAIL__SMTP_URL", sink.url()),
        ("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "8192".to_string()),
        ("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let redirect = "http://127.0.0.1:9/cb";
    let created = gatehouse(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Logs",
            "--redirect-uri",
            redirect,
            "--json",
        ],
        &env,
        None,
    );
    let client: Value = serde_json::from_slice(&created.stdout).expect("client JSON");
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let client_secret = client["client_secret"].as_str().unwrap().to_string();
    gatehouse(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        &env,
        Some(PASSWORD),
    );

    let mut verbose = env.clone();
    verbose.extend([("GATEHOUSE_LOG_FORMAT", "json"), ("RUST_LOG", "trace")]);
    let mut server = ServedBinary::start(dir.path(), port, &verbose).await;
    let http = reqwest::Client::new();

    let flow = async {
        let mut secrets: Vec<(&str, String)> = vec![
            ("password", PASSWORD.to_string()),
            ("new password", NEW_PASSWORD.to_string()),
            ("client secret", client_secret.clone()),
        ];
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"));
        let authorization = format!("Basic {basic}");
        secrets.push(("Basic credentials", basic.clone()));

        // Sign-in, code, tokens with offline_access, a refresh.
        let verifier = gatehouse::secrets::random_token();
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "openid email offline_access"),
            ("state", "xyz"),
            ("code_challenge", &pkce_challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        let browser = Browser::new(&issuer);
        let to = browser
            .sign_in(&format!("{issuer}/authorize?{query}"), "carol", PASSWORD)
            .await;
        let code = query_param(&to, "code").expect("code");
        let token_call = |form: Vec<(&'static str, String)>| {
            http.post(format!("{issuer}/token"))
                .header("authorization", authorization.as_str())
                .form(&form)
                .send()
        };
        let tokens: Value = token_call(vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_string()),
            ("code_verifier", verifier.clone()),
        ])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let first_refresh = tokens["refresh_token"]
            .as_str()
            .expect("offline refresh token")
            .to_string();
        let refreshed: Value = token_call(vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", first_refresh.clone()),
        ])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let second_refresh = refreshed["refresh_token"]
            .as_str()
            .expect("rotated refresh token")
            .to_string();
        let access_token = refreshed["access_token"].as_str().unwrap().to_string();
        let userinfo = http
            .get(format!("{issuer}/userinfo"))
            .bearer_auth(&access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 200);
        let introspected: Value = http
            .post(format!("{issuer}/introspect"))
            .header("authorization", authorization.as_str())
            .form(&[("token", second_refresh.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(introspected["active"], true);
        secrets.extend([
            ("authorization code", code),
            ("PKCE verifier", verifier),
            ("access token", tokens["access_token"].as_str().unwrap().to_string()),
            ("ID token", tokens["id_token"].as_str().unwrap().to_string()),
            ("first refresh token", first_refresh),
            ("rotated refresh token", second_refresh),
            ("refreshed access token", access_token),
        ]);
        secrets.extend(
            cookie_values(&browser)
                .into_iter()
                .map(|v| ("session browser cookie", v)),
        );

        // A password reset through its emailed link.
        let resetting = Browser::new(&issuer);
        let html = resetting.get("/forgot").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("identifier", "carol".to_string()),
        ];
        resetting
            .http
            .post(format!("{issuer}/forgot"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let link = sink.wait_for("carol@example.com", "Reset your").await.link();
        secrets.push(("reset link token", link_token(&link)));
        assert_eq!(resetting.get(&link).await.status(), 302);
        let html = resetting.get("/reset").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("password", NEW_PASSWORD.to_string()),
            ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        let reset = resetting
            .http
            .post(format!("{issuer}/reset"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(reset.status(), 200, "the reset went through");
        secrets.extend(
            cookie_values(&resetting)
                .into_iter()
                .map(|v| ("reset browser cookie", v)),
        );

        // A signup through its confirmation link.
        let joining = Browser::new(&issuer);
        let html = joining.get("/signup").await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("given_name", "Dave".to_string()),
            ("family_name", "Example".to_string()),
            ("username", "dave".to_string()),
            ("email", "dave@example.com".to_string()),
            ("password", NEW_PASSWORD.to_string()),
            ("password_confirm", NEW_PASSWORD.to_string()),
        ];
        let signup = joining
            .http
            .post(format!("{issuer}/signup"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(signup.status(), 200);
        let link = sink.wait_for("dave@example.com", "Confirm your email").await.link();
        secrets.push(("confirmation link token", link_token(&link)));
        let html = joining.get(&link).await.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("token", hidden_input(&html, "token").unwrap()),
        ];
        let confirmed = joining
            .http
            .post(format!("{issuer}/signup/confirm"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(confirmed.status().as_u16() < 400, "confirmed: {}", confirmed.status());
        secrets.extend(
            cookie_values(&joining)
                .into_iter()
                .map(|v| ("signup browser cookie", v)),
        );
        secrets
    };
    // Whatever happens in the flow, the server we started is stopped.
    let outcome = tokio::time::timeout(Duration::from_secs(120), flow).await;
    server.kill();
    let secrets = outcome.expect("the flow finished in time");

    let logs = server.logs();
    assert!(logs.contains("\"listening\""), "the server logged");
    assert!(logs.contains("TRACE"), "logs are at TRACE");
    assert!(
        logs.contains("password reset"),
        "the reset was logged (as an event, without secrets)"
    );
    for (name, secret) in &secrets {
        assert!(secret.len() >= 8, "{name} is a real value");
        assert!(!logs.contains(secret.as_str()), "the {name} appears in the logs");
    }
}

on_both_backends! {
    async fn h2_a_failing_database_answers_a_generic_5xx_without_internals(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let (code, verifier) = app.code_for(&app.client).await;
        // The fault: tables the next requests need are gone (as after a bad migration).
        for table in ["sessions", "authorization_codes"] {
            sqlx::query(&format!("ALTER TABLE {table} RENAME TO {table}_gone"))
                .execute(app.store.pool())
                .await
                .unwrap();
        }
        let fresh = app.browser();
        let login_html = fresh.get("/login").await.text().await.unwrap();
        let login = fresh.submit_login(&login_html, "alice", PASSWORD).await;
        let responses = [
            ("account page", browser.get("/account").await),
            ("login", login),
            ("token endpoint", app.redeem(&app.client, &code, &verifier).await),
        ];
        let dir = app.dir.path().display().to_string();
        for (case, response) in responses {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert!((500..600).contains(&status), "{case}: {status} {body}");
            let lower = body.to_lowercase();
            for internal in [
                "select ", "insert ", "update ", "delete ", "no such table", "does not exist", "relation", "_gone",
                "sqlx", "sqlite", "postgres", "error returned from database", ".rs:", "src/", "panicked", "backtrace",
                "/tmp/", dir.as_str(),
            ] {
                assert!(!lower.contains(&internal.to_lowercase()), "{case} leaks {internal:?}: {body}");
            }
        }
        assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), 200, "the process survives");
    }

    async fn h4_no_raw_code_token_cookie_link_or_client_secret_is_stored(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid email offline_access")]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
        // Read once while the code is live, once at the end.
        let mut rows = every_row(&app.store).await;
        let tokens: serde_json::Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
        let refreshed: serde_json::Value = app.refresh(&app.client, &first_refresh, &[]).await.json().await.unwrap();
        request_reset(&app, &app.browser(), "alice").await;
        let reset = link_token(&app.mail.wait_for("alice@example.com", "Reset your").await.link());
        sign_up(&app, &app.browser(), "carol", "carol@example.com").await;
        let confirm = link_token(&app.mail.wait_for("carol@example.com", "Confirm your email").await.link());
        // Delivered mail leaves the outbox (a pending message holds its link until sent).
        for _ in 0..50 {
            if app.store.pending_mail_count().await.unwrap() == 0 { break; }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(app.store.pending_mail_count().await.unwrap(), 0);
        let after = every_row(&app.store).await;
        for (table, at_least) in [("authorization_codes", 1), ("sessions", 1), ("refresh_tokens", 2), ("email_tokens", 2), ("clients", 3)] {
            let n = after.iter().filter(|(t, _)| t == table).count();
            assert!(n >= at_least, "{table} should hold {at_least}+ rows to check, has {n}");
        }
        rows.extend(after);
        // The scan sees stored values (so absence below means something).
        assert!(rows.iter().any(|(t, r)| t == "users" && r.contains("alice@example.com")));
        assert!(rows.iter().any(|(t, r)| t == "authorization_codes" && r.contains(CONFIDENTIAL_REDIRECT)));

        let mut secrets = vec![
            ("authorization code", code),
            ("PKCE verifier", verifier),
            ("access token", tokens["access_token"].as_str().unwrap().to_string()),
            ("refresh token", first_refresh),
            ("rotated refresh token", refreshed["refresh_token"].as_str().unwrap().to_string()),
            ("refreshed access token", refreshed["access_token"].as_str().unwrap().to_string()),
            ("reset link token", reset),
            ("confirmation link token", confirm),
        ];
        for client in [&app.client, &app.other_client] {
            secrets.push(("client secret", client.secret.clone().unwrap()));
        }
        let session_cookie = browser.cookies().split("; ").find_map(|c| c.strip_prefix("gatehouse_session=")).map(str::to_string);
        secrets.push(("session cookie", session_cookie.expect("a session cookie")));
        for (table, row) in &rows {
            for (name, secret) in &secrets {
                assert!(!row.contains(secret.as_str()), "the raw {name} is stored in {table}: {row}");
            }
        }
    }
}
