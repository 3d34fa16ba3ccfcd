//! Signed request objects (OIDC Core §6.1, RFC 9101): the request as a JWT the client
//! signed with its registered key. Its parameters win over the URL's; a bad signature,
//! `alg: none`, another audience, an expired object or a mismatched client_id is refused.

use crate::helpers::*;
use crate::on_both_backends;
use josekit::jws::RS256;
use serde_json::{json, Value};

struct SigningClient {
    client: TestClient,
    signer: josekit::jws::alg::rsassa::RsassaJwsSigner,
}

async fn signing_client(app: &TestApp) -> SigningClient {
    let pair = RS256.generate_key_pair(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("rk1");
    let jwks = json!({ "keys": [serde_json::to_value(public.as_ref()).unwrap()] }).to_string();
    let client = add_client(&app.store, "signing-app", true, app.clock.now(), |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.jwks = Some(jwks);
    })
    .await;
    SigningClient {
        client,
        signer: RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap(),
    }
}

fn sign(signer: &dyn josekit::jws::JwsSigner, claims: &Value) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("rk1");
    let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, signer).unwrap()
}

const VERIFIER: &str = "a-request-object-verifier-that-is-long-enough-for-pkce-0123456789";

fn object_claims(app: &TestApp, client: &TestClient) -> Value {
    json!({
        "iss": client.id, "aud": app.base, "exp": app.clock.now() + 300,
        "client_id": client.id, "response_type": "code",
        "redirect_uri": client.redirect_uri, "scope": "openid profile",
        "state": "from-the-object", "nonce": "object-nonce", "max_age": 3600,
        "code_challenge": pkce_challenge(VERIFIER), "code_challenge_method": "S256",
    })
}

/// `/authorize` with only client_id, response_type (and `extra`) in the URL.
fn url_with(app: &TestApp, client: &TestClient, object: &str, extra: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &client.id)
        .append_pair("response_type", "code")
        .append_pair("request", object);
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    app.url(&format!("/authorize?{}", query.finish()))
}

on_both_backends! {
    async fn a_signed_request_object_carries_the_request_and_wins_over_the_url(app) {
        let signing = signing_client(&app).await;
        let object = sign(&signing.signer, &object_claims(&app, &signing.client));
        // The URL's own state is ignored: the object's wins.
        let url = url_with(&app, &signing.client, &object, &[("state", "from-the-url")]);
        let to = app.browser().sign_in(&url, &app.user.username, PASSWORD).await;
        assert!(to.starts_with(CONFIDENTIAL_REDIRECT), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("from-the-object"));
        let tokens: Value = app
            .redeem(&signing.client, &query_param(&to, "code").unwrap(), VERIFIER)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["nonce"], "object-nonce");
    }

    async fn unsigned_forged_foreign_or_stale_objects_are_refused(app) {
        let signing = signing_client(&app).await;
        let good = object_claims(&app, &signing.client);
        let other_key = RS256.generate_key_pair(2048).unwrap();
        let forger = RS256.signer_from_jwk(&other_key.to_jwk_private_key()).unwrap();
        let mut elsewhere = good.clone();
        elsewhere["aud"] = json!("https://other-op.example");
        let mut stale = good.clone();
        stale["exp"] = json!(app.clock.now() - 1);
        let mut swapped = good.clone();
        swapped["client_id"] = json!("client");
        let unsigned = {
            use base64::Engine;
            let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good))
        };
        let mut with_redirect = good.clone();
        with_redirect["redirect_uri"] = json!("https://evil.example/cb");
        for (why, object) in [
            ("unsigned", unsigned),
            ("another key", sign(&forger, &good)),
            ("another audience", sign(&signing.signer, &elsewhere)),
            ("expired", sign(&signing.signer, &stale)),
            ("another client_id inside", sign(&signing.signer, &swapped)),
        ] {
            // With the URL's redirect_uri registered, the error goes back there.
            let url = url_with(&app, &signing.client, &object, &[("redirect_uri", CONFIDENTIAL_REDIRECT)]);
            let to = location(app.browser().get(&url).await.headers()).unwrap_or_else(|| panic!("{why}: no redirect"));
            assert!(to.starts_with(CONFIDENTIAL_REDIRECT), "{why}: {to}");
            assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request_object"), "{why}: {to}");
            // Without one, an error page: never a redirect to where the object points.
            let page = app.browser().get(&url_with(&app, &signing.client, &object, &[])).await;
            assert_eq!(page.status(), 400, "{why}");
        }
        // A validly signed object naming an unregistered redirect URI is an error page.
        let evil = app.browser().get(&url_with(&app, &signing.client, &sign(&signing.signer, &with_redirect), &[])).await;
        assert_eq!(evil.status(), 400);
        assert!(location(evil.headers()).is_none());
    }

    async fn a_request_object_can_be_pushed(app) {
        let signing = signing_client(&app).await;
        let object = sign(&signing.signer, &object_claims(&app, &signing.client));
        let pushed = app
            .token_request_to(
                "/par",
                &signing.client,
                &[("client_id", "signing-app"), ("response_type", "code"), ("request", &object)],
            )
            .await;
        assert_eq!(pushed.status(), 201);
        let pushed: Value = pushed.json().await.unwrap();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", "signing-app")
            .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
            .finish();
        let to = app
            .browser()
            .sign_in(&app.url(&format!("/authorize?{query}")), &app.user.username, PASSWORD)
            .await;
        assert_eq!(query_param(&to, "state").as_deref(), Some("from-the-object"), "{to}");
    }
}
