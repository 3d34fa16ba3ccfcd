//! POST /token: code redemption rules (RFC 6749 §4.1.3, §5.2; RFC 7636 §4.6) and
//! robustness against bad input.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

async fn error_of(response: reqwest::Response) -> (u16, String, reqwest::header::HeaderMap) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    let body: Value = response.json().await.expect("JSON error body");
    (status, body["error"].as_str().unwrap_or_default().to_string(), headers)
}

on_both_backends! {
    async fn token_response_is_not_cacheable_and_has_both_tokens(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let response = app.redeem(&app.client, &code, &verifier).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["pragma"], "no-cache");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(body["id_token"].is_string());
        assert!(body.get("refresh_token").is_none());
        let at = crate::sign_in::decode_payload(body["access_token"].as_str().unwrap());
        for claim in ["iss", "sub", "aud", "client_id", "scope", "jti", "iat", "exp"] {
            assert!(at.get(claim).is_some(), "RFC 9068 claim {claim} missing");
        }
        assert_eq!(at["client_id"], "client");
        let header = body["access_token"].as_str().unwrap().split('.').next().unwrap().to_string();
        use base64::Engine;
        let header: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "RS256");
    }

    async fn wrong_pkce_verifier_is_invalid_grant_and_spends_the_code(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let wrong = gatehouse::secrets::random_token();
        let (status, error, _) = error_of(app.redeem(&app.client, &code, &wrong).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        // The right verifier no longer helps: the code is spent.
        let (_, error, _) = error_of(app.redeem(&app.client, &code, &verifier).await).await;
        assert_eq!(error, "invalid_grant");
    }

    async fn missing_verifier_is_invalid_grant(app) {
        let (code, _) = app.code_for(&app.client).await;
        let response = app
            .token_request(&app.client, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", &app.client.redirect_uri)])
            .await;
        assert_eq!(error_of(response).await.1, "invalid_grant");
    }

    async fn verifier_for_code_without_challenge_is_a_downgrade(app) {
        let (url, _) = app.authorize_url(&app.client, &[("code_challenge", ""), ("code_challenge_method", "")]);
        let location = app.browser().sign_in(&url, &app.user.username, PASSWORD).await;
        let code = query_param(&location, "code").expect("confidential clients may skip PKCE");
        let verifier = gatehouse::secrets::random_token();
        assert_eq!(error_of(app.redeem(&app.client, &code, &verifier).await).await.1, "invalid_grant");
    }

    async fn reused_code_is_refused_and_revokes_the_first_tokens(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let first: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let access_token = first["access_token"].as_str().unwrap().to_string();
        let userinfo = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(&access_token).send().await.unwrap();
        assert_eq!(userinfo.status(), 200);

        let (status, error, _) = error_of(app.redeem(&app.client, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        let userinfo = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(&access_token).send().await.unwrap();
        assert_eq!(userinfo.status(), 401, "the first access token must die with the replay");
        assert!(userinfo.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    }

    async fn expired_code_is_invalid_grant(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        app.clock.advance(61);
        let (status, error, _) = error_of(app.redeem(&app.client, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    }

    async fn code_of_one_client_is_invalid_grant_for_another(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let (status, error, _) = error_of(app.redeem(&app.other_client, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    }

    async fn redirect_uri_must_match_the_authorization_request(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let response = app
            .token_request(&app.client, &[
                ("grant_type", "authorization_code"), ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/other"), ("code_verifier", &verifier),
            ])
            .await;
        assert_eq!(error_of(response).await.1, "invalid_grant");
    }

    async fn wrong_client_secret_is_401_invalid_client(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let mut impostor = crate::helpers::TestClient {
            id: app.client.id.clone(),
            secret: Some("not-the-secret".into()),
            redirect_uri: app.client.redirect_uri.clone(),
        };
        let (status, error, headers) = error_of(app.redeem(&impostor, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (401, "invalid_client"));
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        // No secret at all from a confidential client.
        impostor.secret = None;
        let (status, error, _) = error_of(app.redeem(&impostor, &code, &verifier).await).await;
        assert_eq!((status, error.as_str()), (401, "invalid_client"));
        // Unknown client.
        impostor.id = "nobody".into();
        impostor.secret = Some("x".into());
        assert_eq!(error_of(app.redeem(&impostor, &code, &verifier).await).await.0, 401);
    }

    async fn client_secret_post_is_accepted(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let response = reqwest::Client::new()
            .post(app.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", &app.client.redirect_uri),
                ("code_verifier", &verifier), ("client_id", &app.client.id),
                ("client_secret", app.client.secret.as_deref().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn malformed_and_oversized_requests_are_400_never_500(app) {
        let http = reqwest::Client::new();
        let secret = app.client.secret.clone().unwrap();
        let post = |body: Vec<u8>, content_type: &'static str| {
            http.post(app.url("/token"))
                .basic_auth("client", Some(&secret))
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let form = "application/x-www-form-urlencoded";
        let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
            ("no grant_type", b"code=x".to_vec(), form, "invalid_request"),
            ("repeated parameter", b"grant_type=authorization_code&code=a&code=b".to_vec(), form, "invalid_request"),
            ("invalid UTF-8", b"grant_type=authorization_code&code=%ff%fe".to_vec(), form, "invalid_request"),
            ("JSON body", br#"{"grant_type":"authorization_code"}"#.to_vec(), "application/json", "invalid_request"),
            ("oversized body", format!("grant_type=authorization_code&code={}", "a".repeat(200_000)).into_bytes(), form, "invalid_request"),
            ("missing code", b"grant_type=authorization_code&redirect_uri=x".to_vec(), form, "invalid_request"),
            ("password grant", b"grant_type=password&username=a&password=b".to_vec(), form, "unsupported_grant_type"),
            ("implicit-style grant", b"grant_type=token".to_vec(), form, "unsupported_grant_type"),
        ];
        for (name, body, content_type, expected) in cases {
            let response = post(body, content_type).await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            assert_eq!((status, body["error"].as_str().unwrap_or("(none)")), (400, expected), "{name}");
        }
    }

    async fn concurrent_redemptions_of_one_code_have_exactly_one_winner(app) {
        let (code, verifier) = app.code_for(&app.client).await;
        let app = std::sync::Arc::new(app);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (app, code, verifier, barrier) = (app.clone(), code.clone(), verifier.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.redeem(&app.client, &code, &verifier).await.status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 49, "{statuses:?}");
    }
}
