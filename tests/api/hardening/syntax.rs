//! Input that carries syntax: names with control characters, reset tokens with cookie
//! syntax.

use super::*;

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
