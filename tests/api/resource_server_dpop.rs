//! The example resource server with DPoP-bound tokens (RFC 9449 §7), in front of a real
//! Gatehouse: a token Gatehouse bound to a client's key opens the API only under the DPoP
//! scheme, with a fresh proof by that key for that very request; as a bearer token, or
//! with a proof that is mistargeted, replayed, stale, by another key or without the
//! token's hash, it is refused with a DPoP challenge. Unbound tokens stay bearer tokens.

use crate::dpop::DpopKey;
use crate::helpers::*;
use crate::on_both_backends;
use crate::resource_server::{call, observed, register_api, start_api, worker_token, Seen, API};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_example_resource_server as rs;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ROUTES: [&str; 2] = ["/jwt/hello", "/introspect/hello"];

/// A client_credentials token for the API, bound to `key` by a proof at /token.
async fn bound_token(app: &TestApp, worker: &TestClient, key: &DpopKey) -> String {
    let proof = key.proof_at(app.clock.now(), "POST", &app.url("/token"), json!({}));
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth(&worker.id, worker.secret.as_deref())
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_claims(&token)["cnf"], json!({ "jkt": key.jkt }));
    token
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A fresh, correct proof for GET at `url` with `token`.
fn proof(app: &TestApp, key: &DpopKey, url: &str, token: &str) -> String {
    key.proof_at(app.clock.now(), "GET", url, json!({ "ath": ath(token) }))
}

/// GET `path` with `Authorization: <authorization>` and, if given, a DPoP proof.
async fn send(server: &rs::Running, path: &str, authorization: &str, proof: Option<&str>) -> Seen {
    let mut request = reqwest::Client::new()
        .get(server.url(path))
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    observed(request.send().await.unwrap()).await
}

/// A 401 with a DPoP challenge (RFC 9449 §7.1) naming `error` and the algorithms accepted.
fn assert_dpop_refusal(seen: &Seen, error: &str, what: &str) {
    assert_eq!(seen.status, 401, "{what}: {}", seen.body);
    let challenge = seen.challenge.as_deref().unwrap_or_default();
    assert!(challenge.starts_with("DPoP "), "{what}: {challenge:?}");
    assert!(
        challenge.contains(&format!("error=\"{error}\"")),
        "{what}: {challenge:?}"
    );
    assert!(challenge.contains(r#"algs="ES256 RS256""#), "{what}: {challenge:?}");
    assert_eq!(seen.body["error"], error, "{what}");
}

on_both_backends! {
    async fn a_bound_token_with_a_proof_opens_both_routes_but_not_as_a_bearer_token(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let key = DpopKey::es256();
        let token = bound_token(&app, &worker, &key).await;
        let dpop = format!("DPoP {token}");

        let jwt = send(&server, "/jwt/hello", &dpop, Some(&proof(&app, &key, &server.url("/jwt/hello"), &token))).await;
        assert_eq!(jwt.status, 200, "{}", jwt.body);
        assert_eq!(jwt.body, json!({ "mode": "jwt", "sub": "worker", "scope": "orders:read" }));
        let url = server.url("/introspect/hello");
        let introspected = send(&server, "/introspect/hello", &dpop, Some(&proof(&app, &key, &url, &token))).await;
        assert_eq!(introspected.status, 200, "{}", introspected.body);
        assert_eq!(
            introspected.body,
            json!({ "mode": "introspection", "sub": "worker", "scope": "orders:read" })
        );

        for path in ROUTES {
            // Stolen and replayed as a bearer token, it opens nothing (§7.2), even with a
            // proof alongside: the scheme says what the caller claims the token is.
            let bearer = call(&server, path, Some(&token)).await;
            assert_dpop_refusal(&bearer, "invalid_token", &format!("{path} as Bearer"));
            let url = server.url(path);
            let with_proof = send(&server, path, &format!("Bearer {token}"), Some(&proof(&app, &key, &url, &token))).await;
            assert_dpop_refusal(&with_proof, "invalid_token", &format!("{path} as Bearer with a proof"));
            // Under the DPoP scheme but with no proof.
            let bare = send(&server, path, &dpop, None).await;
            assert_dpop_refusal(&bare, "invalid_dpop_proof", &format!("{path} without a proof"));
        }
    }

    async fn mistargeted_replayed_foreign_and_hashless_proofs_are_refused(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let key = DpopKey::es256();
        let token = bound_token(&app, &worker, &key).await;
        let other_token = bound_token(&app, &worker, &key).await;
        let dpop = format!("DPoP {token}");
        let now = app.clock.now();

        for path in ROUTES {
            let url = server.url(path);
            let other_route = server.url(if path == "/jwt/hello" { "/introspect/hello" } else { "/jwt/hello" });
            let with_ath = json!({ "ath": ath(&token) });
            let bad = [
                ("another URL", key.proof_at(now, "GET", &other_route, with_ath.clone())),
                ("another method", key.proof_at(now, "POST", &url, with_ath.clone())),
                ("another key", proof(&app, &DpopKey::es256(), &url, &token)),
                ("no ath", key.proof_at(now, "GET", &url, json!({}))),
                ("another token's ath", proof(&app, &key, &url, &other_token)),
                ("a stale iat", key.proof_at(now - 120, "GET", &url, with_ath.clone())),
                ("not a JWT", "not.a-proof".to_string()),
            ];
            for (what, bad) in bad {
                let seen = send(&server, path, &dpop, Some(&bad)).await;
                assert_dpop_refusal(&seen, "invalid_dpop_proof", &format!("{path}: {what}"));
            }

            // The very proof that was let in once is refused the second time (same jti).
            let once = proof(&app, &key, &url, &token);
            assert_eq!(send(&server, path, &dpop, Some(&once)).await.status, 200, "{path}");
            let replayed = send(&server, path, &dpop, Some(&once)).await;
            assert_dpop_refusal(&replayed, "invalid_dpop_proof", &format!("{path}: replayed"));
            let why = replayed.body["error_description"].as_str().unwrap();
            assert!(why.contains("already used"), "{path}: {why}");
        }
    }

    async fn an_unbound_token_stays_a_bearer_token(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let token = worker_token(&app, &worker).await;
        assert!(jwt_claims(&token).get("cnf").is_none());
        let key = DpopKey::es256();

        for path in ROUTES {
            let bearer = call(&server, path, Some(&token)).await;
            assert_eq!(bearer.status, 200, "{path}: {}", bearer.body);
            // A proof does not make an unbound token a DPoP one: it was issued to whoever holds it.
            let url = server.url(path);
            let seen = send(&server, path, &format!("DPoP {token}"), Some(&proof(&app, &key, &url, &token))).await;
            assert_dpop_refusal(&seen, "invalid_token", &format!("{path} unbound under DPoP"));
        }
    }

    async fn proofs_name_the_public_url_the_api_is_reached_at(app) {
        let (api, worker) = register_api(&app).await;
        let mut config = rs::Config::new(&app.base, API);
        config.listen = "127.0.0.1:0".parse().unwrap();
        // Behind a proxy: callers reach this server at another host and under a prefix.
        config.public_url = Some("https://api.example.com/orders/".into());
        config.introspection_client_id = Some(API.into());
        config.introspection_client_secret = api.secret.clone();
        let server = rs::start(config).await.expect("resource server starts");
        let key = DpopKey::es256();
        let token = bound_token(&app, &worker, &key).await;
        let dpop = format!("DPoP {token}");

        let public = proof(&app, &key, "https://api.example.com/orders/jwt/hello?page=2", &token);
        let seen = send(&server, "/jwt/hello", &dpop, Some(&public)).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        let internal = proof(&app, &key, &server.url("/jwt/hello"), &token);
        let seen = send(&server, "/jwt/hello", &dpop, Some(&internal)).await;
        assert_dpop_refusal(&seen, "invalid_dpop_proof", "the internal address");
        assert!(seen.body["error_description"].as_str().unwrap().contains("htu"));
    }
}
