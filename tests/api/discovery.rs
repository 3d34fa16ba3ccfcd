//! Discovery and JWKS (OpenID Connect Discovery 1.0 §3–4, RFC 7517).

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

on_both_backends! {
    async fn discovery_lists_exactly_what_is_supported(app) {
        let response = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
        assert!(response.headers().get("access-control-allow-credentials").is_none());
        let doc: Value = response.json().await.unwrap();
        assert_eq!(doc["issuer"], app.base.as_str());
        for (field, expected) in [
            ("response_types_supported", serde_json::json!(["code"])),
            ("code_challenge_methods_supported", serde_json::json!(["S256"])),
            ("id_token_signing_alg_values_supported", serde_json::json!(["RS256"])),
            ("subject_types_supported", serde_json::json!(["public", "pairwise"])),
            (
                "grant_types_supported",
                serde_json::json!([
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:device_code"
                ]),
            ),
            ("response_modes_supported", serde_json::json!(["query", "form_post"])),
            ("backchannel_logout_supported", serde_json::json!(true)),
            ("userinfo_signing_alg_values_supported", serde_json::json!(["RS256"])),
            ("request_parameter_supported", serde_json::json!(true)),
            ("request_object_signing_alg_values_supported", serde_json::json!(["RS256", "ES256"])),
            ("authorization_response_iss_parameter_supported", serde_json::json!(true)),
            ("request_uri_parameter_supported", serde_json::json!(true)),
            ("require_request_uri_registration", serde_json::json!(true)),
            ("dpop_signing_alg_values_supported", serde_json::json!(["ES256", "RS256"])),
        ] {
            assert_eq!(doc[field], expected, "{field}");
        }
        assert!(doc["scopes_supported"].as_array().unwrap().contains(&"openid".into()));
        assert!(doc["claims_supported"].as_array().unwrap().contains(&"email_verified".into()));
        // Every advertised endpoint is served (one definition of each path).
        assert!(!doc["id_token_signing_alg_values_supported"].to_string().contains("none"));
        for field in [
            "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
            "end_session_endpoint", "introspection_endpoint", "revocation_endpoint",
            "device_authorization_endpoint",
        ] {
            let url = doc[field].as_str().unwrap();
            assert!(url.starts_with(&app.base), "{field}: {url}");
            let status = reqwest::get(url).await.unwrap().status();
            assert_ne!(status, 404, "{field} is not routed");
        }
    }

    async fn jwks_publishes_public_rs256_keys_only(app) {
        let response = reqwest::get(app.url("/jwks")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
        let jwks: Value = response.json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = keys[0].as_object().unwrap();
        let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
        members.sort();
        assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        // RFC 7638 thumbprint as kid; at least 2048 bits.
        let n = key["n"].as_str().unwrap();
        assert_eq!(key["kid"].as_str().unwrap(), gatehouse::keys::thumbprint(n, key["e"].as_str().unwrap()));
        use base64::Engine;
        assert!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(n).unwrap().len() * 8 >= 2048);
    }
}
