//! The first real sign-in, driven by the `openidconnect` crate as the relying party:
//! discovery, authorization code + PKCE, ID token validated against the JWKS, userinfo.

use crate::helpers::*;
use crate::on_both_backends;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};

fn rp_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in_as_relying_party(
    app: &TestApp,
    client: &TestClient,
    scopes: &[&str],
) -> (CoreUserInfoClaims, serde_json::Value) {
    let http = rp_http();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    let (url, csrf, nonce) = request.url();

    let redirect = app.browser().sign_in(url.as_str(), "Alice@Example.com", PASSWORD).await;
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert_eq!(query_param(&redirect, "state").as_deref(), Some(csrf.secret().as_str()));
    // RFC 9207: the issuer identifies itself in the response.
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(app.base.as_str()));
    let code = query_param(&redirect, "code").expect("code");

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("id token");
    // Signature against the JWKS, iss, aud, exp, nonce: all checked by the library.
    let claims = id_token
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("valid ID token");
    assert_eq!(claims.subject().as_str(), app.user.id);
    assert!(claims.auth_time().is_some());
    let at_hash = claims.access_token_hash().expect("at_hash");
    assert_eq!(
        at_hash.as_str(),
        gatehouse::oauth::claims::left_half_hash(tokens.access_token().secret())
    );
    let raw_claims = decode_payload(&id_token.to_string());

    let userinfo: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject().as_str(), app.user.id);
    (userinfo, raw_claims)
}

pub fn decode_payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

on_both_backends! {
    async fn confidential_client_signs_in_with_code_and_pkce(app) {
        let (userinfo, id_claims) = sign_in_as_relying_party(&app, &app.client, &["email", "profile"]).await;
        assert_eq!(userinfo.email().unwrap().as_str(), app.user.email);
        assert_eq!(userinfo.email_verified(), Some(true));
        assert_eq!(userinfo.preferred_username().unwrap().as_str(), app.user.username);
        assert_eq!(userinfo.given_name().unwrap().get(None).unwrap().as_str(), "Alice");
        // Data minimisation: profile claims come from userinfo, not the ID token.
        assert!(id_claims.get("email").is_none());
        assert!(id_claims.get("sid").is_some());
    }

    async fn public_client_signs_in_with_pkce_and_no_secret(app) {
        let (userinfo, _) = sign_in_as_relying_party(&app, &app.public_client, &["email"]).await;
        assert_eq!(userinfo.email().unwrap().as_str(), app.user.email);
    }

    async fn openid_scope_alone_releases_only_sub(app) {
        let (userinfo, id_claims) = sign_in_as_relying_party(&app, &app.client, &[]).await;
        assert!(userinfo.email().is_none());
        assert!(userinfo.preferred_username().is_none());
        assert!(userinfo.name().is_none());
        for claim in ["email", "name", "preferred_username", "given_name"] {
            assert!(id_claims.get(claim).is_none(), "{claim} leaked into the ID token");
        }
    }
}
