//! Refresh tokens: issuance rules, rotation, reuse detection, lifetimes, binding to the
//! client, and the race of concurrent uses (RFC 6749 §6, RFC 9700 §4.14, OIDC Core §12).

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

async fn offline_tokens(app: &TestApp, client: &TestClient) -> Value {
    app.tokens_with(client, &[("scope", "openid email offline_access")])
        .await
}

on_both_backends! {
    async fn refresh_tokens_need_offline_access_or_always_refresh(app) {
        let plain = app.tokens_with(&app.client, &[]).await;
        assert!(plain.get("refresh_token").is_none());
        let offline = offline_tokens(&app, &app.client).await;
        let token = offline["refresh_token"].as_str().expect("refresh token");
        use base64::Engine;
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).unwrap().len(), 32);
        assert!(offline["scope"].as_str().unwrap().contains("offline_access"));

        let first_party = add_client(&app.store, "always", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.always_refresh = true;
        }).await;
        assert!(app.tokens_with(&first_party, &[]).await["refresh_token"].is_string());

        let no_refresh = add_client(&app.store, "norefresh", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.grant_types = vec!["authorization_code".into()];
        }).await;
        let tokens = offline_tokens(&app, &no_refresh).await;
        assert!(tokens.get("refresh_token").is_none());
        assert!(!tokens["scope"].as_str().unwrap().contains("offline_access"));
        let (status, error) = oauth_error(app.refresh(&no_refresh, "anything", &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
    }

    async fn refresh_rotates_and_keeps_the_identity(app) {
        let first = offline_tokens(&app, &app.client).await;
        let old = first["refresh_token"].as_str().unwrap();
        let response = app.refresh(&app.client, old, &[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let second: Value = response.json().await.unwrap();
        let new = second["refresh_token"].as_str().unwrap();
        assert_ne!(new, old, "rotation issues a new refresh token");
        assert_eq!(second["token_type"], "Bearer");
        let (a, b) = (jwt_claims(first["id_token"].as_str().unwrap()), jwt_claims(second["id_token"].as_str().unwrap()));
        for claim in ["iss", "sub", "aud", "auth_time"] {
            assert_eq!(a[claim], b[claim], "OIDC Core §12.2: {claim} must not change");
        }
        assert!(b.get("nonce").is_none(), "a refreshed ID token carries no nonce");
        assert_eq!(app.userinfo_status(second["access_token"].as_str().unwrap()).await, 200);
        // The new one works in turn.
        assert_eq!(app.refresh(&app.client, new, &[]).await.status(), 200);
    }

    async fn reusing_a_rotated_refresh_token_revokes_the_family(app) {
        let first = offline_tokens(&app, &app.client).await;
        let old = first["refresh_token"].as_str().unwrap();
        let second: Value = app.refresh(&app.client, old, &[]).await.json().await.unwrap();
        let (status, error) = oauth_error(app.refresh(&app.client, old, &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        // Everything in the family is dead: the live refresh token and the access tokens.
        let (_, error) = oauth_error(app.refresh(&app.client, second["refresh_token"].as_str().unwrap(), &[]).await).await;
        assert_eq!(error, "invalid_grant");
        assert_eq!(app.userinfo_status(second["access_token"].as_str().unwrap()).await, 401);
        assert_eq!(app.userinfo_status(first["access_token"].as_str().unwrap()).await, 401);
    }

    async fn scope_may_narrow_but_not_widen(app) {
        let tokens = offline_tokens(&app, &app.client).await;
        let rt = tokens["refresh_token"].as_str().unwrap();
        let (status, error) = oauth_error(app.refresh(&app.client, rt, &[("scope", "openid email profile")]).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_scope"));
        let narrowed: Value = app.refresh(&app.client, rt, &[("scope", "openid")]).await.json().await.unwrap();
        assert_eq!(narrowed["scope"], "openid");
        // The family keeps its full scope.
        let again: Value = app
            .refresh(&app.client, narrowed["refresh_token"].as_str().unwrap(), &[])
            .await
            .json()
            .await
            .unwrap();
        assert!(again["scope"].as_str().unwrap().contains("email"));
    }

    async fn a_refresh_token_of_one_client_is_invalid_grant_for_another(app) {
        let theirs = offline_tokens(&app, &app.other_client).await;
        let rt = theirs["refresh_token"].as_str().unwrap();
        let (status, error) = oauth_error(app.refresh(&app.client, rt, &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        // The owner can still use it: the failed attempt burned nothing.
        assert_eq!(app.refresh(&app.other_client, rt, &[]).await.status(), 200);
    }

    async fn idle_and_absolute_lifetimes_end_refresh_tokens(app) {
        let short = add_client(&app.store, "short", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.refresh_idle_ttl_secs = Some(100);
            c.refresh_absolute_ttl_secs = Some(250);
        }).await;
        let tokens = offline_tokens(&app, &short).await;
        let mut rt = tokens["refresh_token"].as_str().unwrap().to_string();
        // Used within the idle window, twice: each use restarts the idle clock.
        for _ in 0..2 {
            app.clock.advance(90);
            let next: Value = app.refresh(&short, &rt, &[]).await.json().await.unwrap();
            rt = next["refresh_token"].as_str().expect("still alive").to_string();
        }
        // 180 s in; the absolute cap of 250 s ends the family even though it is in use.
        app.clock.advance(90);
        let (_, error) = oauth_error(app.refresh(&short, &rt, &[]).await).await;
        assert_eq!(error, "invalid_grant");

        let idle = offline_tokens(&app, &short).await;
        app.clock.advance(101);
        let (_, error) = oauth_error(app.refresh(&short, idle["refresh_token"].as_str().unwrap(), &[]).await).await;
        assert_eq!(error, "invalid_grant");
    }

    async fn concurrent_refreshes_of_one_token_have_exactly_one_winner(app) {
        let tokens = offline_tokens(&app, &app.client).await;
        let rt = tokens["refresh_token"].as_str().unwrap().to_string();
        let app = std::sync::Arc::new(app);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (app, rt, barrier) = (app.clone(), rt.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.refresh(&app.client, &rt, &[]).await.status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 19, "{statuses:?}");
    }

    async fn without_offline_access_refresh_ends_with_the_session(app) {
        let first_party = add_client(&app.store, "always", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.always_refresh = true;
        })
        .await;
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&first_party, &[]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
        let tokens: Value = app.redeem(&first_party, &code, &verifier).await.json().await.unwrap();
        let rt = tokens["refresh_token"].as_str().unwrap();
        let next: Value = app.refresh(&first_party, rt, &[]).await.json().await.unwrap();
        let page = browser.get("/logout").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf_token").unwrap();
        browser.http.post(app.url("/logout/confirm")).form(&[("csrf_token", csrf)]).send().await.unwrap();
        let (_, error) = oauth_error(app.refresh(&first_party, next["refresh_token"].as_str().unwrap(), &[]).await).await;
        assert_eq!(error, "invalid_grant");
    }

    async fn code_replay_also_kills_the_refresh_token(app) {
        let (code, verifier) = app.code_with(&app.client, &[("scope", "openid offline_access")]).await;
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 400);
        let (_, error) = oauth_error(app.refresh(&app.client, tokens["refresh_token"].as_str().unwrap(), &[]).await).await;
        assert_eq!(error, "invalid_grant");
    }
}
