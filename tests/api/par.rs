//! Pushed authorization requests (RFC 9126): the client pushes its request to `/par`,
//! authenticated; the browser carries only a `request_uri`, once, for a minute; a client
//! registered with `require_par` cannot skip the push.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

/// The parameters `/authorize` would get, with PKCE for `client`.
fn request_params<'a>(client: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client.id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "pushed-state"),
        ("nonce", "pushed-nonce"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn push(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app.token_request_to("/par", client, form).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    (response.status().as_u16(), response.json().await.unwrap())
}

fn authorize_url(app: &TestApp, client: &TestClient, request_uri: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client.id)
        .append_pair("request_uri", request_uri)
        .finish();
    app.url(&format!("/authorize?{query}"))
}

const VERIFIER: &str = "a-pushed-request-verifier-that-is-long-enough-for-pkce-0123456789";

on_both_backends! {
    async fn a_pushed_request_signs_in_once_through_its_request_uri(app) {
        let challenge = pkce_challenge(VERIFIER);
        let (status, pushed) = push(&app, &app.client, &request_params(&app.client, &challenge)).await;
        assert_eq!(status, 201, "{pushed}");
        let request_uri = pushed["request_uri"].as_str().unwrap();
        assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{request_uri}");
        assert_eq!(pushed["expires_in"], 60);

        let browser = app.browser();
        let to = browser.sign_in(&authorize_url(&app, &app.client, request_uri), &app.user.username, PASSWORD).await;
        assert!(to.starts_with(&app.client.redirect_uri), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("pushed-state"), "the pushed state, not the URL's");
        let code = query_param(&to, "code").unwrap();
        let tokens: Value = app.redeem(&app.client, &code, VERIFIER).await.json().await.unwrap();
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["nonce"], "pushed-nonce");

        // Used once: the same request_uri again is an error page, never a redirect.
        let again = browser.get(&authorize_url(&app, &app.client, request_uri)).await;
        assert_eq!(again.status(), 400);
        assert!(again.text().await.unwrap().contains("expired or was already used"));
    }

    async fn a_request_uri_is_the_pushing_clients_and_lives_a_minute(app) {
        let challenge = pkce_challenge(VERIFIER);
        let (_, pushed) = push(&app, &app.client, &request_params(&app.client, &challenge)).await;
        let request_uri = pushed["request_uri"].as_str().unwrap();
        // Another client's id beside it finds nothing (and does not use it up).
        let foreign = app.browser().get(&authorize_url(&app, &app.other_client, request_uri)).await;
        assert_eq!(foreign.status(), 400);
        app.clock.advance(61);
        let late = app.browser().get(&authorize_url(&app, &app.client, request_uri)).await;
        assert_eq!(late.status(), 400);
        let made_up = app.browser().get(&authorize_url(&app, &app.client, "urn:ietf:params:oauth:request_uri:nope")).await;
        assert_eq!(made_up.status(), 400);
    }

    async fn bad_pushes_answer_json_errors(app) {
        let challenge = pkce_challenge(VERIFIER);
        let mut form = request_params(&app.client, &challenge);
        // A redirect URI that is not registered.
        form[1] = ("redirect_uri", "https://evil.example/cb");
        let (status, body) = push(&app, &app.client, &form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
        // A public client without PKCE.
        let form = vec![
            ("client_id", app.public_client.id.as_str()),
            ("redirect_uri", app.public_client.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "openid"),
        ];
        let (status, body) = push(&app, &app.public_client, &form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
        // Another client's id in the body.
        let form = request_params(&app.other_client, &challenge);
        let (status, body) = push(&app, &app.client, &form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
        // A request_uri inside a push.
        let mut form = request_params(&app.client, &challenge);
        form.push(("request_uri", "urn:ietf:params:oauth:request_uri:x"));
        let (status, body) = push(&app, &app.client, &form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
        // No client authentication.
        let wrong = TestClient {
            id: app.client.id.clone(),
            secret: Some("not-the-secret".into()),
            redirect_uri: app.client.redirect_uri.clone(),
        };
        let (status, body) = push(&app, &wrong, &request_params(&app.client, &challenge)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    }

    async fn a_client_that_requires_par_cannot_send_its_request_in_the_url(app) {
        let strict = add_client(&app.store, "strict-par", true, app.clock.now(), |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.require_par = true;
        })
        .await;
        let (url, _) = app.authorize_url(&strict, &[]);
        let to = location(app.browser().get(&url).await.headers()).expect("an error redirect");
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
        assert!(query_param(&to, "error_description").unwrap().contains("push"), "{to}");
        // Pushed, it works.
        let challenge = pkce_challenge(VERIFIER);
        let (status, pushed) = push(&app, &strict, &request_params(&strict, &challenge)).await;
        assert_eq!(status, 201, "{pushed}");
        let browser = app.browser();
        let to = browser
            .sign_in(&authorize_url(&app, &strict, pushed["request_uri"].as_str().unwrap()), &app.user.username, PASSWORD)
            .await;
        assert!(query_param(&to, "code").is_some(), "{to}");

        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert_eq!(discovery["pushed_authorization_request_endpoint"], app.url("/par"));
        assert_eq!(discovery["require_pushed_authorization_requests"], false);
    }
}
