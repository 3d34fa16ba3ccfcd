//! The account page's password checks share the login's lockout and per-IP limit, and
//! attempts from many addresses meet a limit for everyone (F2).

use super::*;

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

on_both_backends! {
    async fn a_trickle_of_bad_guesses_does_not_keep_the_owner_locked_out(app) {
        for i in 0..5 {
            assert_eq!(login(&app, "alice", "wrong password").await.0, 401, "failure {i}");
        }
        assert_eq!(login(&app, "alice", PASSWORD).await.0, 429, "five failures lock the account");
        // Then one bad guess every quarter of an hour, as an attacker keeping a victim out
        // would send: each is forgiven before the next, so the lock never comes back.
        for round in 0..4 {
            app.clock.advance(15 * 60);
            let (status, html) = login(&app, "alice", "wrong password").await;
            assert_eq!(status, 401, "round {round}: {html}");
        }
        assert_eq!(login(&app, "alice", PASSWORD).await.0, 303, "the owner signs in");
    }
}
