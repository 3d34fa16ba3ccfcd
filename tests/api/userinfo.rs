//! /userinfo accepts only our own live RS256 access tokens (RFC 6750, RFC 9068 §4,
//! security checklist B1–B4).

use crate::helpers::*;
use crate::on_both_backends;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn tokens(app: &TestApp) -> Value {
    let (code, verifier) = app.code_for(&app.client).await;
    app.redeem(&app.client, &code, &verifier).await.json().await.unwrap()
}

async fn userinfo_status(app: &TestApp, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

on_both_backends! {
    async fn forged_and_misused_tokens_are_401(app) {
        let issued = tokens(&app).await;
        let access_token = issued["access_token"].as_str().unwrap();
        let (ok, _) = userinfo_status(&app, access_token).await;
        assert_eq!(ok, 200);

        let mut parts = access_token.split('.');
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
        let payload = parts.next().unwrap().to_string();
        let kid = header["kid"].as_str().unwrap();

        let alg_none = format!("{}.{payload}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})));
        // HS256 keyed with our public modulus: the classic algorithm-confusion forgery.
        let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
        let n = jwks["keys"][0]["n"].as_str().unwrap().to_string();
        let signing_input = format!("{}.{payload}", b64(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})));
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(n.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        let hs256 = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        let unknown_kid = {
            let mut parts = access_token.splitn(2, '.');
            let _ = parts.next();
            format!("{}.{}", b64(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "../../etc/passwd"})), parts.next().unwrap())
        };
        let mut tampered_payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
        tampered_payload["sub"] = "someone-else".into();
        let tampered = access_token.replacen(&payload, &b64(&tampered_payload), 1);

        for (name, token) in [
            ("alg none", alg_none.as_str()),
            ("HS256 with the public key", hs256.as_str()),
            ("unknown kid", unknown_kid.as_str()),
            ("tampered payload", tampered.as_str()),
            ("ID token as access token", issued["id_token"].as_str().unwrap()),
            ("garbage", "not-a-jwt"),
        ] {
            let (status, challenge) = userinfo_status(&app, token).await;
            assert_eq!(status, 401, "{name}");
            assert!(challenge.contains("error=\"invalid_token\""), "{name}: {challenge}");
        }
    }

    async fn expired_access_token_is_401(app) {
        let issued = tokens(&app).await;
        app.clock.advance(15 * 60 + 1);
        assert_eq!(userinfo_status(&app, issued["access_token"].as_str().unwrap()).await.0, 401);
    }

    async fn missing_token_is_401_with_a_bearer_challenge(app) {
        let response = reqwest::get(app.url("/userinfo")).await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }

    async fn post_with_form_token_works(app) {
        let issued = tokens(&app).await;
        let response = reqwest::Client::new()
            .post(app.url("/userinfo"))
            .form(&[("access_token", issued["access_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let claims: Value = response.json().await.unwrap();
        assert_eq!(claims["sub"], app.user.id.as_str());
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["name"], "Alice Liddell");
    }
}
