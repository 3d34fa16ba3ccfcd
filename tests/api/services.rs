//! Service-to-service: the client_credentials grant (RFC 6749 §4.4) with RFC 8707
//! resources, and private_key_jwt client authentication (RFC 7523, OIDC Core §9).

use crate::helpers::*;
use crate::on_both_backends;
use josekit::jws::RS256;
use serde_json::{json, Value};

const API: &str = "https://api.example.com";

async fn service(app: &TestApp) -> TestClient {
    add_client(&app.store, "billing", true, 0, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.audiences = vec![API.into(), "https://reports.example.com".into()];
        c.allowed_scopes = Some(vec!["invoices:read".into(), "invoices:write".into()]);
    })
    .await
}

async fn client_credentials(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    app.token_request(client, &form).await
}

/// An RSA key pair for a client, and its public JWK Set.
fn client_key() -> (josekit::jws::alg::rsassa::RsassaJwsSigner, String) {
    let pair = RS256.generate_key_pair(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("k1");
    let jwks = json!({ "keys": [serde_json::to_value(public.as_ref()).unwrap()] }).to_string();
    let signer = RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
    (signer, jwks)
}

fn assertion(
    signer: &josekit::jws::alg::rsassa::RsassaJwsSigner,
    client_id: &str,
    aud: &str,
    jti: &str,
    exp: i64,
) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("k1");
    let claims = json!({ "iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "exp": exp, "iat": exp - 60 });
    let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, signer).unwrap()
}

on_both_backends! {
    async fn client_credentials_tokens_name_the_client_and_the_resource(app) {
        let billing = service(&app).await;
        let response = client_credentials(&app, &billing, &[]).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body.get("id_token").is_none());
        assert!(body.get("refresh_token").is_none());
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], "billing");
        assert_eq!(claims["client_id"], "billing");
        assert_eq!(claims["aud"], API, "the first registered audience is the default");
        assert_eq!(claims["scope"], "invoices:read invoices:write");

        let body: Value = client_credentials(&app, &billing, &[("resource", "https://reports.example.com"), ("scope", "invoices:read")])
            .await.json().await.unwrap();
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["aud"], "https://reports.example.com");
        assert_eq!(claims["scope"], "invoices:read");

        let (status, error) = oauth_error(client_credentials(&app, &billing, &[("resource", "https://evil.example.com")]).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_target"));
        let (_, error) = oauth_error(client_credentials(&app, &billing, &[("scope", "admin")]).await).await;
        assert_eq!(error, "invalid_scope");
        // Such a token is not a user's: userinfo refuses it.
        let token = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(token["aud"], "https://reports.example.com");
        assert_eq!(app.userinfo_status(body["access_token"].as_str().unwrap()).await, 401);
    }

    async fn clients_without_the_grant_are_unauthorized(app) {
        let (status, error) = oauth_error(client_credentials(&app, &app.client, &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
        let (status, error) = oauth_error(client_credentials(&app, &app.public_client, &[]).await).await;
        assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
    }

    async fn private_key_jwt_authenticates_once_per_assertion(app) {
        let (signer, jwks) = client_key();
        add_client(&app.store, "signed", false, 0, |c| {
            c.grant_types = vec!["client_credentials".into()];
            c.audiences = vec![API.into()];
            c.jwks = Some(jwks.clone());
        })
        .await;
        let token_url = app.url("/token");
        let now = app.clock.now();
        let post = |assertion: String| {
            reqwest::Client::new()
                .post(app.url("/token"))
                .form(&[
                    ("grant_type", "client_credentials".to_string()),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
                    ("client_assertion", assertion),
                ])
                .send()
        };
        let good = assertion(&signer, "signed", &token_url, "jti-1", now + 60);
        assert_eq!(post(good.clone()).await.unwrap().status(), 200);
        let (status, error) = oauth_error(post(good).await.unwrap()).await;
        assert_eq!((status, error.as_str()), (401, "invalid_client"), "a replayed assertion is refused");

        let wrong_aud = assertion(&signer, "signed", "https://elsewhere.example.com/token", "jti-2", now + 60);
        assert_eq!(oauth_error(post(wrong_aud).await.unwrap()).await.0, 401);
        let expired = assertion(&signer, "signed", &token_url, "jti-3", now - 1);
        assert_eq!(oauth_error(post(expired).await.unwrap()).await.0, 401);
        let (other_signer, _) = client_key();
        let foreign = assertion(&other_signer, "signed", &token_url, "jti-4", now + 60);
        assert_eq!(oauth_error(post(foreign).await.unwrap()).await.0, 401);
        // The issuer is an accepted audience too.
        let to_issuer = assertion(&signer, "signed", &app.base, "jti-5", now + 60);
        assert_eq!(post(to_issuer).await.unwrap().status(), 200);
    }
}

/// Retries `request` until `done` holds for its status or `within` passes; the last status.
async fn status_eventually(
    within: std::time::Duration,
    mut request: impl AsyncFnMut() -> u16,
    done: impl Fn(u16) -> bool,
) -> u16 {
    let deadline = std::time::Instant::now() + within;
    loop {
        let status = request().await;
        if done(status) || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

on_both_backends! {
    // Running servers keep clients in memory; a change through the store (as the CLI or
    // another instance makes it) must still reach them: a new secret replaces the old
    // one and a deleted client is refused, within the one-second poll.
    async fn a_client_given_a_new_secret_or_deleted_elsewhere_is_refused_on_a_running_server(app) {
        let client = service(&app).await;
        assert_eq!(client_credentials(&app, &client, &[]).await.status(), 200, "warms the cache");

        let mut stored = app.store.client("billing").await.unwrap().unwrap();
        let new_secret = gatehouse::clients::generate_secret();
        stored.secret_hash = Some(gatehouse::secrets::digest(&new_secret));
        app.store.update_client(&stored).await.unwrap();
        let within = std::time::Duration::from_secs(10);
        let old = status_eventually(within, async || client_credentials(&app, &client, &[]).await.status().as_u16(), |s| s == 401).await;
        assert_eq!(old, 401, "the old secret still works");
        let rotated = TestClient { secret: Some(new_secret), ..client.clone() };
        assert_eq!(client_credentials(&app, &rotated, &[]).await.status(), 200, "the new secret is refused");

        app.store.delete_client("billing").await.unwrap();
        let gone = status_eventually(within, async || client_credentials(&app, &rotated, &[]).await.status().as_u16(), |s| s == 401).await;
        assert_eq!(gone, 401, "a deleted client still gets tokens");
    }
}
