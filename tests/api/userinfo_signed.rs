//! Signed UserInfo (OIDC Core §5.3.2): a client registered with
//! `userinfo_signed_response_alg = RS256`, by the operator or at /register, gets its
//! claims as a JWT signed with the ID-token key, naming the issuer and itself; every other
//! client still gets JSON, and refusals stay RFC 6750 JSON.

use crate::dpop::DpopKey;
use crate::helpers::*;
use crate::{on_both_backends, on_both_backends_with};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse::admin::clients::{self as service, ClientSettings};
use gatehouse::config::{RawConfig, RegistrationMode};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{AccessToken, ClientId, IssuerUrl};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Asks for signed answers for `client_id` as `gatehouse client update
/// --userinfo-signed-response-alg RS256` does, and makes this instance see it at once.
async fn sign_for(app: &TestApp, client_id: &str, alg: &str) {
    let settings = ClientSettings {
        userinfo_signed_response_alg: Some(alg.into()),
        ..ClientSettings::default()
    };
    service::update(&app.store, &app.state.outbound, client_id, settings, false)
        .await
        .unwrap();
    app.state.clients.refresh(&app.store).await.unwrap();
}

async fn get_userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers()["content-type"].to_str().unwrap().to_string()
}

/// Checks `jwt` against the published JWK Set, as a relying party would: RS256, the `kid`
/// of a published key, typ JWT. Returns its claims.
async fn verified(app: &TestApp, jwt: &str) -> Value {
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(header["typ"], "JWT", "{header}");
    let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("the kid {} is published: {jwks}", header["kid"]));
    let jwk = josekit::jwk::Jwk::from_bytes(key.to_string().as_bytes()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jwt::decode_with_verifier(jwt, &verifier).expect("a valid signature");
    Value::Object(payload.claims_set().clone())
}

fn open(raw: &mut RawConfig) {
    raw.registration.mode = RegistrationMode::Open;
}

on_both_backends! {
    async fn a_client_set_up_for_it_gets_its_claims_signed_and_others_get_json(app) {
        sign_for(&app, &app.client.id, "RS256").await;
        let tokens = app.tokens_with(&app.client, &[]).await;
        let access = tokens["access_token"].as_str().unwrap();
        let response = get_userinfo(&app, access).await;
        assert_eq!(response.status(), 200);
        assert_eq!(content_type(&response), "application/jwt");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let jwt = response.text().await.unwrap();
        let claims = verified(&app, &jwt).await;
        assert_eq!(claims["iss"], app.base.as_str());
        assert_eq!(claims["aud"], app.client.id.as_str());
        assert_eq!(claims["sub"], app.user.id.as_str());
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["name"], "Alice Liddell");
        assert!(claims["iat"].as_i64().is_some_and(|iat| (iat - app.clock.now()).abs() < 60), "{claims}");
        for absent in ["exp", "nonce", "client_id", "scope", "jti"] {
            assert!(claims.get(absent).is_none(), "{absent} in {claims}");
        }
        // The same claims as JSON would carry, and nothing of the token.
        let mut bare = claims.as_object().unwrap().clone();
        for added in ["iss", "aud", "iat"] {
            bare.remove(added);
        }
        sign_for(&app, &app.client.id, "").await;
        assert_eq!(app.userinfo(access).await, Value::Object(bare), "an empty setting goes back to JSON");
        sign_for(&app, &app.client.id, "RS256").await;

        // POST with the token in the body answers the same way.
        let posted = reqwest::Client::new().post(app.url("/userinfo")).form(&[("access_token", access)]).send().await.unwrap();
        assert_eq!(content_type(&posted), "application/jwt");
        assert_eq!(verified(&app, &posted.text().await.unwrap()).await["aud"], app.client.id.as_str());

        // Another client of the same user still gets JSON.
        let other = app.tokens_with(&app.other_client, &[]).await;
        let plain = get_userinfo(&app, other["access_token"].as_str().unwrap()).await;
        assert_eq!(content_type(&plain), "application/json");
        let plain: Value = plain.json().await.unwrap();
        assert_eq!(plain["sub"], app.user.id.as_str());
        assert!(plain.get("iss").is_none() && plain.get("aud").is_none(), "{plain}");

        // Refusals are never signed: RFC 6750's JSON and challenge, as before.
        let refused = get_userinfo(&app, "not-a-token").await;
        assert_eq!(refused.status(), 401);
        assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
        assert_eq!(content_type(&refused), "application/json");
    }

    async fn a_signed_userinfo_answer_is_no_id_token_hint(app) {
        // Same key, typ and issuer as an ID token, but not one: no silent sign-in with it,
        // no logout without asking.
        sign_for(&app, &app.client.id, "RS256").await;
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let to = browser.sign_in(&url, &app.user.username, PASSWORD).await;
        let tokens: Value = app.redeem(&app.client, &query_param(&to, "code").unwrap(), &verifier).await.json().await.unwrap();
        let signed = get_userinfo(&app, tokens["access_token"].as_str().unwrap()).await.text().await.unwrap();
        let (silent, _) = app.authorize_url(&app.client, &[("prompt", "none"), ("id_token_hint", &signed)]);
        let to = location(browser.get(&silent).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
        let (silent, _) = app.authorize_url(&app.client, &[("prompt", "none"), ("id_token_hint", tokens["id_token"].as_str().unwrap())]);
        let to = location(browser.get(&silent).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "the ID token itself is a hint: {to}");
        let logout = format!("{}/logout?{}", app.base, serde_urlencoded::to_string([("id_token_hint", signed.as_str())]).unwrap());
        let page = browser.get(&logout).await;
        assert!(location(page.headers()).is_none(), "asks first");
    }

    async fn only_rs256_can_be_asked_for(app) {
        for alg in ["HS256", "none", "ES256", "rs256"] {
            let settings = ClientSettings { userinfo_signed_response_alg: Some(alg.into()), ..ClientSettings::default() };
            let error = service::update(&app.store, &app.state.outbound, &app.client.id, settings, false).await.err().unwrap().to_string();
            assert!(error.contains("is not supported: use RS256"), "{alg}: {error}");
        }
        let stored = app.store.client(&app.client.id).await.unwrap().unwrap();
        assert!(stored.userinfo_signed_response_alg.is_none());
    }

    async fn the_openidconnect_relying_party_verifies_the_signed_answer(app) {
        sign_for(&app, &app.client.id, "RS256").await;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http).await.unwrap();
        assert_eq!(
            serde_json::to_value(metadata.userinfo_signing_alg_values_supported()).unwrap(),
            json!(["RS256"])
        );
        let rp_for = |client: &TestClient| {
            CoreClient::from_provider_metadata(metadata.clone(), ClientId::new(client.id.clone()), None)
        };
        let signed = app.tokens_with(&app.client, &[]).await;
        let access = AccessToken::new(signed["access_token"].as_str().unwrap().into());
        // Signature against the JWKS, iss and aud: checked by the library.
        let claims: CoreUserInfoClaims = rp_for(&app.client)
            .user_info(access.clone(), None)
            .unwrap()
            .require_signed_response(true)
            .request_async(&http)
            .await
            .expect("a signed answer the relying party accepts");
        assert_eq!(claims.subject().as_str(), app.user.id);
        assert_eq!(claims.email().unwrap().as_str(), "alice@example.com");
        // Meant for this client only: another client's library refuses it.
        let as_other = rp_for(&app.other_client)
            .user_info(access, None)
            .unwrap()
            .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&http)
            .await;
        assert!(as_other.is_err(), "the audience is checked: {as_other:?}");
        // A client that did not ask gets JSON, which a library demanding a signature refuses.
        let plain = app.tokens_with(&app.other_client, &[]).await;
        let unsigned = rp_for(&app.other_client)
            .user_info(AccessToken::new(plain["access_token"].as_str().unwrap().into()), None)
            .unwrap()
            .require_signed_response(true)
            .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&http)
            .await;
        assert!(unsigned.is_err(), "JSON is not signed: {unsigned:?}");
    }

    async fn a_dpop_bound_token_gets_a_signed_answer_too(app) {
        sign_for(&app, &app.client.id, "RS256").await;
        let key = DpopKey::es256();
        let (code, verifier) = app.code_for(&app.client).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", app.client.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        let token_proof = key.proof_at(app.clock.now(), "POST", &app.url("/token"), json!({}));
        let tokens: Value = reqwest::Client::new()
            .post(app.url("/token"))
            .basic_auth(&app.client.id, app.client.secret.as_deref())
            .header("DPoP", token_proof)
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
        let access = tokens["access_token"].as_str().unwrap();
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes()));
        let proof = key.proof_at(app.clock.now(), "GET", &app.url("/userinfo"), json!({ "ath": ath }));
        let response = reqwest::Client::new()
            .get(app.url("/userinfo"))
            .header("authorization", format!("DPoP {access}"))
            .header("DPoP", proof)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(content_type(&response), "application/jwt");
        let claims = verified(&app, &response.text().await.unwrap()).await;
        assert_eq!(claims["aud"], app.client.id.as_str());
        // As a bearer token it is still refused, with the DPoP challenge, unsigned.
        let bearer = get_userinfo(&app, access).await;
        assert_eq!(bearer.status(), 401);
        assert!(bearer.headers()["www-authenticate"].to_str().unwrap().starts_with("DPoP"));
    }
}

on_both_backends_with! {
    open;

    async fn a_dynamically_registered_client_asks_for_signed_userinfo(app) {
        let register = |body: Value| {
            let url = app.url("/register");
            async move { reqwest::Client::new().post(url).json(&body).send().await.unwrap() }
        };
        let response = register(json!({
            "redirect_uris": ["https://rp.example.com/cb"],
            "client_name": "Signed RP",
            "userinfo_signed_response_alg": "RS256",
        }))
        .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["userinfo_signed_response_alg"], "RS256", "echoed: {body}");
        let client = TestClient {
            id: body["client_id"].as_str().unwrap().into(),
            secret: body["client_secret"].as_str().map(str::to_string),
            redirect_uri: "https://rp.example.com/cb".into(),
        };
        let (authorize, verifier) = app.authorize_url(&client, &[]);
        let redirect = crate::registration::sign_in_with_consent(&app, &authorize).await;
        let code = query_param(&redirect, "code").expect("code");
        let tokens: Value = app.redeem(&client, &code, &verifier).await.json().await.unwrap();
        let response = get_userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(content_type(&response), "application/jwt");
        let claims = verified(&app, &response.text().await.unwrap()).await;
        assert_eq!(claims["aud"], client.id.as_str());
        assert_eq!(claims["iss"], app.base.as_str());
        assert_eq!(claims["sub"], app.user.id.as_str());

        // RFC 7592 §2.2: a replacement without it answers JSON again.
        let uri = body["registration_client_uri"].as_str().unwrap();
        let replaced: Value = reqwest::Client::new()
            .put(uri)
            .bearer_auth(body["registration_access_token"].as_str().unwrap())
            .json(&json!({"client_id": client.id, "redirect_uris": ["https://rp.example.com/cb"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(replaced.get("userinfo_signed_response_alg").is_none(), "{replaced}");
        let response = get_userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(content_type(&response), "application/json");

        // Only RS256; anything else is refused, not answered unsigned.
        for alg in [json!("HS256"), json!("none"), json!(256)] {
            let refused = register(json!({"redirect_uris": ["https://rp.example.com/cb"], "userinfo_signed_response_alg": alg})).await;
            assert_eq!(refused.status(), 400, "{alg}");
            let error: Value = refused.json().await.unwrap();
            assert_eq!(error["error"], "invalid_client_metadata", "{alg}: {error}");
        }
    }
}
