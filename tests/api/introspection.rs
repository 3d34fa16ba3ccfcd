//! Introspection (RFC 7662) and revocation (RFC 7009): own, foreign, expired, revoked and
//! unknown tokens, with and without client authentication.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> reqwest::Response {
    let http = reqwest::Client::new();
    let mut request = http.post(app.url("/introspect")).form(&[("token", token)]);
    if let Some(secret) = &client.secret {
        request = request.basic_auth(&client.id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn active(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let response = introspect(app, client, token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn revoke(app: &TestApp, client: &TestClient, token: &str) -> reqwest::Response {
    app.token_request_to("/revoke", client, &[("token", token)]).await
}

fn inactive() -> Value {
    serde_json::json!({ "active": false })
}

on_both_backends! {
    async fn introspection_reports_own_tokens_and_nothing_about_others(app) {
        let tokens = app.tokens_with(&app.client, &[("scope", "openid email offline_access")]).await;
        let at = tokens["access_token"].as_str().unwrap();
        let rt = tokens["refresh_token"].as_str().unwrap();

        let answer = active(&app, &app.client, at).await;
        assert_eq!(answer["active"], true);
        assert_eq!(answer["client_id"], "client");
        assert_eq!(answer["sub"], app.user.id.as_str());
        assert_eq!(answer["token_type"], "Bearer");
        for claim in ["scope", "exp", "iat", "iss", "aud", "jti"] {
            assert!(answer.get(claim).is_some(), "{claim}");
        }
        let answer = active(&app, &app.client, rt).await;
        assert_eq!(answer["active"], true);
        assert_eq!(answer["token_type"], "refresh_token");

        // Foreign, unknown and garbage tokens: active false and nothing else.
        assert_eq!(active(&app, &app.other_client, at).await, inactive());
        assert_eq!(active(&app, &app.other_client, rt).await, inactive());
        assert_eq!(active(&app, &app.client, "no-such-token").await, inactive());
        assert_eq!(active(&app, &app.client, "a.b.c").await, inactive());

        // No or bad client authentication, or a public client: 401.
        let anonymous = reqwest::Client::new().post(app.url("/introspect")).form(&[("token", at)]).send().await.unwrap();
        assert_eq!(oauth_error(anonymous).await, (401, "invalid_client".to_string()));
        let public = app.token_request_to("/introspect", &app.public_client, &[("token", at)]).await;
        assert_eq!(oauth_error(public).await.0, 401);
        let wrong = TestClient { id: "client".into(), secret: Some("wrong".into()), redirect_uri: String::new() };
        assert_eq!(oauth_error(introspect(&app, &wrong, at).await).await.0, 401);

        // Expired.
        app.clock.advance(15 * 60 + 1);
        assert_eq!(active(&app, &app.client, at).await, inactive());
    }

    async fn revoking_a_refresh_token_revokes_its_family(app) {
        let tokens = app.tokens_with(&app.client, &[("scope", "openid email offline_access")]).await;
        let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
        assert_eq!(revoke(&app, &app.client, rt).await.status(), 200);
        assert_eq!(active(&app, &app.client, rt).await, inactive());
        assert_eq!(active(&app, &app.client, at).await, inactive());
        assert_eq!(app.userinfo_status(at).await, 401);
        assert_eq!(oauth_error(app.refresh(&app.client, rt, &[]).await).await.1, "invalid_grant");
        // Revoking again, or an unknown token: still 200 (RFC 7009 §2.2).
        assert_eq!(revoke(&app, &app.client, rt).await.status(), 200);
        assert_eq!(revoke(&app, &app.client, "never-issued").await.status(), 200);
    }

    async fn revoking_an_access_token_stops_it_everywhere(app) {
        let tokens = app.tokens_with(&app.client, &[]).await;
        let at = tokens["access_token"].as_str().unwrap();
        assert_eq!(app.userinfo_status(at).await, 200);
        assert_eq!(revoke(&app, &app.client, at).await.status(), 200);
        assert_eq!(app.userinfo_status(at).await, 401);
        assert_eq!(active(&app, &app.client, at).await, inactive());
    }

    async fn revoking_another_clients_token_is_refused(app) {
        let tokens = app.tokens_with(&app.other_client, &[("scope", "openid offline_access")]).await;
        let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
        assert_eq!(oauth_error(revoke(&app, &app.client, rt).await).await.0, 400);
        assert_eq!(oauth_error(revoke(&app, &app.client, at).await).await.0, 400);
        // Still alive for their owner.
        assert_eq!(app.userinfo_status(at).await, 200);
        assert_eq!(app.refresh(&app.other_client, rt, &[]).await.status(), 200);
        // A public client may revoke its own tokens with just its client_id.
        let spa = app.tokens_with(&app.public_client, &[]).await;
        assert_eq!(revoke(&app, &app.public_client, spa["access_token"].as_str().unwrap()).await.status(), 200);
        assert_eq!(app.userinfo_status(spa["access_token"].as_str().unwrap()).await, 401);
    }
}

#[tokio::test]
async fn revocation_answers_503_not_200_when_the_store_fails() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let tokens = app
        .tokens_with(&app.client, &[("scope", "openid offline_access")])
        .await;
    // Client authentication reads the store too; close it after the lookup would have
    // happened is not possible from outside, so close it now: every answer must be a
    // retryable failure, never a success that did not happen.
    app.store.close().await;
    let response = revoke(&app, &app.client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 503, "{:?}", response.text().await);
}
