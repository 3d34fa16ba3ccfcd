//! Nothing grows without a bound: oversized identifiers are never stored, the janitor
//! purges abandoned sign-ups and stale failure counts, and anonymous /authorize
//! requests are limited per IP.

use super::*;

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
