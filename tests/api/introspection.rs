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

/// The README's "An API checking tokens" recipe, pasted as written: the API registers
/// with its own URI as client id (a `:` in a client id is legal, RFC 6749 §2.3.1) through
/// the real `gatehouse` binary, a different client gets a token for that audience, and
/// the API introspects it with client_secret_post (as the README's curl line does) and
/// with HTTP Basic (the id form-urlencoded, as OAuth libraries send it). Tokens for
/// another audience stay opaque to it.
#[tokio::test]
async fn readme_introspection_recipe_works_as_written_for_another_clients_token() {
    use base64::Engine;
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let database = format!("sqlite://{}/gatehouse.db", app.dir.path().display());
    let env = [("GATEHOUSE_DATABASE_URL", database.as_str())];
    let create = |args: &[&str]| -> Value {
        let out = crate::cli::gatehouse(app.dir.path(), args, &env, None);
        assert!(out.status.success(), "{}", crate::cli::stderr(&out));
        serde_json::from_str(&crate::cli::stdout(&out)).expect("client JSON")
    };
    // The README's command, word for word (plus --json to read the secret here).
    let api = create(&[
        "client",
        "create",
        "--name",
        "Orders API",
        "--client-id",
        "https://api.example.com",
        "--grant-type",
        "client_credentials",
        "--audience",
        "https://api.example.com",
        "--json",
    ]);
    assert_eq!(api["client_id"], "https://api.example.com");
    let api_secret = api["client_secret"].as_str().unwrap().to_string();
    let worker = create(&[
        "client",
        "create",
        "--name",
        "Worker",
        "--grant-type",
        "client_credentials",
        "--audience",
        "https://api.example.com",
        "--json",
    ]);
    let elsewhere = create(&[
        "client",
        "create",
        "--name",
        "Elsewhere",
        "--grant-type",
        "client_credentials",
        "--audience",
        "https://billing.example.com",
        "--json",
    ]);
    let http = reqwest::Client::new();
    let token_for = |client: &Value| {
        let request = http
            .post(app.url("/token"))
            .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
            .form(&[("grant_type", "client_credentials")]);
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["access_token"].as_str().expect("access token").to_string()
        }
    };
    let for_api = token_for(&worker).await;
    let for_billing = token_for(&elsewhere).await;

    // client_secret_post, as `curl -d client_id=https://api.example.com -d client_secret=…`.
    let post = |token: &str| {
        http.post(app.url("/introspect"))
            .form(&[
                ("client_id", "https://api.example.com"),
                ("client_secret", api_secret.as_str()),
                ("token", token),
            ])
            .send()
    };
    let answer: Value = post(&for_api).await.unwrap().json().await.unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["aud"], "https://api.example.com");
    assert_eq!(answer["client_id"], worker["client_id"]);
    let answer: Value = post(&for_billing).await.unwrap().json().await.unwrap();
    assert_eq!(answer, inactive(), "a token for another audience says nothing");

    // HTTP Basic: base64(urlencode(id) ":" urlencode(secret)), so the id's `:` is %3A.
    let id = form_urlencoded::byte_serialize(b"https://api.example.com").collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{api_secret}"));
    let answer: Value = http
        .post(app.url("/introspect"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("token", for_api.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{id}:not-the-secret"));
    let refused = http
        .post(app.url("/introspect"))
        .header("authorization", format!("Basic {wrong}"))
        .form(&[("token", for_api.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(refused).await, (401, "invalid_client".to_string()));
}
