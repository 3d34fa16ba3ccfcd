//! Checklist rows about passwords: long passphrases and the 1024-byte cap (C1), the
//! argon2id parameters and the rehash of an outdated hash at login (C3), the
//! forgot-password answer while the mail server is down (C10), and the login lockout
//! when the clock is set back (H6).

use super::*;
use gatehouse::config::RawConfig;

/// A passphrase of 64 characters and more, with spaces, punctuation and non-ASCII letters.
const PASSPHRASE: &str =
    "my grandmother's kitchen smelled of cardamom, rye bread & wet wool — every winter, ninety-one";

/// A login attempt from a fresh browser: the status and the page without its CSRF token
/// (which differs per browser).
async fn login_answer(app: &TestApp, identifier: &str, password: &str) -> (u16, String) {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    let response = browser.submit_login(&html, identifier, password).await;
    let status = response.status().as_u16();
    (status, without_csrf(&response.text().await.unwrap()))
}

fn without_csrf(html: &str) -> String {
    html.lines()
        .filter(|l| !l.contains("csrf_token"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn stored_hash(app: &TestApp) -> String {
    let (hash,): (Option<String>,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(&app.user.id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    hash.expect("alice has a password")
}

fn production_hashing(raw: &mut RawConfig) {
    raw.password_hashing = RawConfig::default().password_hashing;
}

fn smtp_down(raw: &mut RawConfig) {
    // Nothing listens on this port: the mail server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    raw.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
}

crate::on_both_backends! {
    async fn c1_a_long_passphrase_works_end_to_end_and_an_oversized_password_is_just_wrong(app) {
        assert!(PASSPHRASE.chars().count() >= 64, "{}", PASSPHRASE.chars().count());
        // Set on the account page...
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let changed = account_form(&app, &browser, "/account/password", &[
            ("current_password", PASSWORD), ("password", PASSPHRASE), ("password_confirm", PASSPHRASE),
        ]).await;
        assert_eq!(changed.status(), 200);
        assert!(changed.text().await.unwrap().contains("Password changed"));
        assert_eq!(login_status(&app, "alice", PASSPHRASE).await, 303);

        // ...and chosen at sign-up, then confirmed and used.
        let carol = app.browser();
        let html = carol.get("/signup").await.text().await.unwrap();
        let long = format!("{PASSPHRASE} and then some more");
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("given_name", "Carol".to_string()), ("family_name", "Example".to_string()),
            ("username", "carol".to_string()), ("email", "carol@example.com".to_string()),
            ("password", long.clone()), ("password_confirm", long.clone()),
        ];
        let response = carol.http.post(app.url("/signup")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let link = app.mail.wait_for("carol@example.com", "Confirm your email").await.link();
        assert_eq!(press_link(&app, &carol, &link, "/signup/confirm").await.status(), 302);
        assert_eq!(login_status(&app, "carol", &long).await, 303);

        // Over 1024 bytes at /login: the same 401 and page as any wrong password, even when
        // it starts with the right one.
        let wrong = login_answer(&app, "alice", "not the passphrase").await;
        assert_eq!(wrong.0, 401);
        let padded = format!("{PASSPHRASE}{}", " x".repeat(500));
        for oversized in ["x".repeat(1025), padded] {
            assert!(oversized.len() > 1024);
            assert_eq!(login_answer(&app, "alice", &oversized).await, wrong, "{} bytes", oversized.len());
        }
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 401, "the old password is gone");
        // Four failures so far: not yet locked, and the passphrase still works.
        assert_eq!(login_status(&app, "alice", PASSPHRASE).await, 303);
    }

    async fn h6_a_clock_set_back_an_hour_does_not_make_a_login_lock_last_an_hour(app) {
        for _ in 0..5 {
            assert_eq!(login_status(&app, "alice", "wrong").await, 401);
        }
        let (status, page) = login_answer(&app, "alice", PASSWORD).await;
        assert_eq!(status, 429, "locked: even the right password waits");
        assert!(page.contains("Too many failed attempts"));
        // The wall clock goes back an hour: the 30 s lock now seems to end an hour and
        // 30 s from now, longer than any lock (15 min) is set for, so it has served its time.
        app.clock.advance(-3600);
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303, "not locked for an hour");
        // The lockout still works on the new time.
        for _ in 0..5 {
            assert_eq!(login_status(&app, "alice", "wrong").await, 401);
        }
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 429);
        app.clock.advance(31);
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303);
    }
}

on_both_backends_with! { production_hashing;
    async fn c3_the_default_argon2id_parameters_replace_a_weaker_hash_at_the_next_login(app) {
        let defaults = RawConfig::default().password_hashing;
        assert_eq!((defaults.memory_kib, defaults.iterations), (19456, 2), "OWASP's argon2id minimum");
        // The test user's hash was made with the suite's lighter parameters.
        let before = stored_hash(&app).await;
        assert!(before.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{before}");
        // A failed login changes nothing.
        assert_eq!(login_status(&app, "alice", "wrong").await, 401);
        assert_eq!(stored_hash(&app).await, before);
        // The next successful login stores a hash with today's parameters.
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303);
        let after = stored_hash(&app).await;
        assert!(after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{after}");
        // It verifies, and is not rewritten again.
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303);
        assert_eq!(stored_hash(&app).await, after);
    }
}

on_both_backends_with! { smtp_down;
    async fn c10_with_smtp_down_forgot_answers_alike_for_known_and_unknown_and_the_mail_waits(app) {
        let known = request_reset(&app, &app.browser(), "alice").await;
        let known = (known.status().as_u16(), without_csrf(&known.text().await.unwrap()));
        let unknown = request_reset(&app, &app.browser(), "nobody-here").await;
        let unknown = (unknown.status().as_u16(), without_csrf(&unknown.text().await.unwrap()));
        assert_eq!(known.0, 200, "the answer does not wait for, or fail with, the mail server");
        assert_eq!(known, unknown, "the same answer for a known and an unknown identifier");

        // The reset mail waits in the outbox for the mail server to come back.
        let mut outbox = Vec::new();
        for _ in 0..100 {
            outbox = rows_of(&app.store, "mail_outbox").await;
            if !outbox.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(outbox.len(), 1, "{outbox:?}");
        assert!(outbox[0].contains("alice@example.com"), "{outbox:?}");
        assert!(app.mail.all().is_empty());
    }
}
