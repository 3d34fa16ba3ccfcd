//! The account page cuts off what a thief may hold: a password change or "sign out
//! everywhere else" revokes other sessions' offline access, and the page lists (and
//! removes) every app that stays signed in.

use super::*;

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
