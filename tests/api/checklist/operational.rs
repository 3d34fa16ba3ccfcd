//! Checklist section H, operational: a failing database answered with a generic 5xx
//! that carries no internals (H2/H3), and no raw secret anywhere in the database (H4).

use super::*;
use crate::on_both_backends;
use std::time::Duration;

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
