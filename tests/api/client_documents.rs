//! What clients host for Gatehouse to fetch: the JWK Set at their `jwks_uri` (private_key_jwt
//! and request objects, followed through a key rotation), request objects by reference
//! (`request_uri`, OIDC Core §6.2), and the outbound guard that keeps any of those calls,
//! and back-channel logout deliveries, away from private addresses (SSRF, RFC 9700 §4.19).

use crate::helpers::*;
use crate::{on_both_backends, on_both_backends_with};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use josekit::jws::alg::rsassa::RsassaJwsSigner;
use josekit::jws::RS256;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const API: &str = "https://api.example.com";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's web server on loopback: documents by path, and how often each was fetched.
#[derive(Clone, Default)]
struct Site {
    docs: Arc<Mutex<HashMap<String, (&'static str, String)>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Site {
    async fn start() -> (Site, String) {
        let site = Site::default();
        let router = axum::Router::new()
            .route("/{*path}", axum::routing::any(serve))
            .with_state(site.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (site, base)
    }

    fn put(&self, path: &str, content_type: &'static str, body: String) {
        self.docs.lock().unwrap().insert(path.into(), (content_type, body));
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

async fn serve(State(site): State<Site>, Path(path): Path<String>) -> axum::response::Response {
    *site.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    match site.docs.lock().unwrap().get(&path).cloned() {
        Some((content_type, body)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A key pair: its signer and its public JWK Set, with `kid`.
fn key(kid: &str) -> (RsassaJwsSigner, String) {
    let pair = RS256.generate_key_pair(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    let jwks = json!({ "keys": [serde_json::to_value(public.as_ref()).unwrap()] }).to_string();
    (RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap(), jwks)
}

fn sign(signer: &RsassaJwsSigner, kid: &str, claims: &Value) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id(kid);
    let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, signer).unwrap()
}

/// A service that signs in with private_key_jwt, its keys at `jwks_uri`.
async fn service(app: &TestApp, jwks_uri: &str) {
    add_client(&app.store, "svc", false, 0, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.audiences = vec![API.into()];
        c.jwks_uri = Some(jwks_uri.into());
    })
    .await;
}

/// A client_credentials request authenticated by an assertion signed with `signer`/`kid`;
/// the status and the error code, if any.
async fn token_with(app: &TestApp, signer: &RsassaJwsSigner, kid: &str) -> (u16, Option<String>, String) {
    let now = app.clock.now();
    let claims = json!({
        "iss": "svc", "sub": "svc", "aud": app.url("/token"),
        "jti": secrets_like(), "exp": now + 60, "iat": now,
    });
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &sign(signer, kid, &claims)),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let error = body["error"].as_str().map(str::to_string);
    (
        status,
        error,
        body["error_description"].as_str().unwrap_or_default().to_string(),
    )
}

fn secrets_like() -> String {
    use rand::Rng;
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

const VERIFIER: &str = "a-request-by-reference-verifier-long-enough-for-pkce-0123456789";

/// A web client that signs request objects with `kid` and registered `request_uris`.
async fn referencing_client(app: &TestApp, jwks_uri: &str, request_uris: Vec<String>) -> TestClient {
    add_client(&app.store, "referrer", true, app.clock.now(), |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.jwks_uri = Some(jwks_uri.into());
        c.request_uris = request_uris;
    })
    .await
}

fn request_object(app: &TestApp, client: &TestClient, signer: &RsassaJwsSigner) -> String {
    sign(
        signer,
        "r1",
        &json!({
            "iss": client.id, "aud": app.base, "exp": app.clock.now() + 300,
            "client_id": client.id, "response_type": "code",
            "redirect_uri": client.redirect_uri, "scope": "openid",
            "state": "by-reference", "nonce": "n-by-reference",
            "code_challenge": pkce_challenge(VERIFIER), "code_challenge_method": "S256",
        }),
    )
}

fn authorize_by_reference(app: &TestApp, client: &TestClient, request_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &client.id)
        .append_pair("response_type", "code")
        .append_pair("request_uri", request_uri);
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    app.url(&format!("/authorize?{}", query.finish()))
}

fn guard_on(raw: &mut gatehouse::config::RawConfig) {
    raw.outbound.allow_private_networks = false;
}

on_both_backends! {
    async fn private_key_jwt_keys_come_from_the_jwks_uri_and_follow_a_rotation(app) {
        let (site, base) = Site::start().await;
        let (k1, jwks1) = key("k1");
        site.put("jwks", "application/json", jwks1);
        service(&app, &format!("{base}/jwks")).await;
        assert_eq!(token_with(&app, &k1, "k1").await.0, 200);
        assert_eq!(token_with(&app, &k1, "k1").await.0, 200);
        assert_eq!(site.hits("jwks"), 1, "the set is cached");

        // The client rotates: only k2 is published now. Its first assertion makes
        // Gatehouse fetch the set again, at once.
        let (k2, jwks2) = key("k2");
        site.put("jwks", "application/jwk-set+json", jwks2);
        assert_eq!(token_with(&app, &k2, "k2").await.0, 200, "followed the rotation");
        assert_eq!(site.hits("jwks"), 2);
        let (status, error, _) = token_with(&app, &k1, "k1").await;
        assert_eq!((status, error.as_deref()), (401, Some("invalid_client")), "the retired key is refused");

        // Forged assertions under made-up kids do not make Gatehouse fetch again and again.
        let (forger, _) = key("k9");
        for _ in 0..5 {
            assert_eq!(token_with(&app, &forger, "k9").await.1.as_deref(), Some("invalid_client"));
        }
        assert_eq!(site.hits("jwks"), 2, "at most one refetch per ten seconds");
        app.clock.advance(11);
        assert_eq!(token_with(&app, &forger, "k9").await.1.as_deref(), Some("invalid_client"));
        assert_eq!(site.hits("jwks"), 3);
    }

    async fn an_unfetchable_or_unusable_jwks_uri_is_invalid_client(app) {
        let (site, base) = Site::start().await;
        service(&app, &format!("{base}/missing")).await;
        let (k1, _) = key("k1");
        let (status, error, description) = token_with(&app, &k1, "k1").await;
        assert_eq!((status, error.as_deref()), (401, Some("invalid_client")));
        assert!(description.contains("jwks_uri"), "{description}");
        // Not a JWK Set at all.
        site.put("missing", "text/html", "<html>hello</html>".into());
        app.clock.advance(400);
        assert_eq!(token_with(&app, &k1, "k1").await.1.as_deref(), Some("invalid_client"));
    }

    async fn a_request_object_by_reference_comes_from_a_registered_request_uri(app) {
        let (site, base) = Site::start().await;
        let (signer, jwks) = key("r1");
        site.put("jwks", "application/json", jwks);
        let registered = format!("{base}/requests/one");
        // Registered with a fragment, sent without: the fragment is not compared.
        let client = referencing_client(&app, &format!("{base}/jwks"), vec![format!("{registered}#v1")]).await;
        site.put("requests/one", "application/oauth-authz-req+jwt", request_object(&app, &client, &signer));

        let to = app
            .browser()
            .sign_in(&authorize_by_reference(&app, &client, &registered, &[]), &app.user.username, PASSWORD)
            .await;
        assert!(to.starts_with(CONFIDENTIAL_REDIRECT), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("by-reference"));
        let tokens: Value = app
            .redeem(&client, &query_param(&to, "code").unwrap(), VERIFIER)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["nonce"], "n-by-reference");
    }

    async fn a_request_uri_not_registered_unreachable_or_holding_no_object_is_invalid_request_uri(app) {
        let (site, base) = Site::start().await;
        let (signer, jwks) = key("r1");
        site.put("jwks", "application/json", jwks);
        let client = referencing_client(
            &app,
            &format!("{base}/jwks"),
            vec![format!("{base}/gone"), format!("{base}/garbage")],
        )
        .await;
        site.put("unregistered", "application/jwt", request_object(&app, &client, &signer));
        site.put("garbage", "application/jwt", "not a jwt".into());
        for (why, uri) in [
            ("not registered", format!("{base}/unregistered")),
            ("answers 404", format!("{base}/gone")),
            ("not a signed object", format!("{base}/garbage")),
        ] {
            let url = authorize_by_reference(&app, &client, &uri, &[("redirect_uri", CONFIDENTIAL_REDIRECT)]);
            let to = location(app.browser().get(&url).await.headers()).unwrap_or_else(|| panic!("{why}: no redirect"));
            assert!(to.starts_with(CONFIDENTIAL_REDIRECT), "{why}: {to}");
            assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request_uri"), "{why}: {to}");
            // Without a redirect URI of its own in the URL: a page, never a redirect.
            let page = app.browser().get(&authorize_by_reference(&app, &client, &uri, &[])).await;
            assert_eq!(page.status(), 400, "{why}");
            assert!(location(page.headers()).is_none(), "{why}");
        }
        assert_eq!(site.hits("unregistered"), 0, "an unregistered request_uri is never fetched");
        // By value and by reference at once is one too many.
        let both = authorize_by_reference(
            &app,
            &client,
            &format!("{base}/garbage"),
            &[("redirect_uri", CONFIDENTIAL_REDIRECT), ("request", &request_object(&app, &client, &signer))],
        );
        let to = location(app.browser().get(&both).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
    }
}

on_both_backends_with! {
    guard_on;

    async fn with_the_guard_on_nothing_on_a_private_address_is_called(app) {
        let (site, base) = Site::start().await;
        let (signer, jwks) = key("k1");
        site.put("jwks", "application/json", jwks.clone());
        // `localhost` goes through name resolution: refused on the address it resolves to,
        // before any connection (so https to a plain-http server makes no difference).
        let port = base.rsplit(':').next().unwrap();
        service(&app, &format!("https://localhost:{port}/jwks")).await;
        let (status, error, description) = token_with(&app, &signer, "k1").await;
        assert_eq!((status, error.as_deref()), (401, Some("invalid_client")));
        assert!(description.contains("not a public address"), "{description}");

        // A literal loopback address is refused as written.
        let tls_base = base.replace("http://", "https://");
        let client = referencing_client(&app, &format!("{tls_base}/jwks"), vec![format!("{tls_base}/req")]).await;
        let url = authorize_by_reference(&app, &client, &format!("{tls_base}/req"), &[("redirect_uri", CONFIDENTIAL_REDIRECT)]);
        let to = location(app.browser().get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request_uri"), "{to}");
        assert!(query_param(&to, "error_description").unwrap().contains("not a public address"), "{to}");

        // A back-channel logout receiver on loopback is never posted to (without the guard,
        // this plain-http receiver would get the token): the delivery fails, and is retried.
        let rp = add_client(&app.store, "rp", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.backchannel_logout_uri = Some(format!("{base}/backchannel"));
        })
        .await;
        let browser = app.browser();
        let (authorize, verifier) = app.authorize_url(&rp, &[]);
        let to = browser.sign_in(&authorize, &app.user.username, PASSWORD).await;
        let tokens: Value = app.redeem(&rp, &query_param(&to, "code").unwrap(), &verifier).await.json().await.unwrap();
        let logout = format!(
            "{}/logout?{}",
            app.base,
            serde_urlencoded::to_string([("id_token_hint", tokens["id_token"].as_str().unwrap())]).unwrap()
        );
        assert_eq!(browser.get(&logout).await.status(), 200);
        let mut failed = 0.0;
        for _ in 0..100 {
            failed = backchannel_failures(&app).await;
            if failed > 0.0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(failed > 0.0, "the delivery was attempted and refused");
        assert_eq!(site.total_hits(), 0, "nothing reached the loopback server");
    }
}

on_both_backends_with! {
    guard_on;

    async fn with_the_guard_on_urls_it_would_never_call_are_refused_when_set(app) {
        use gatehouse::admin::clients::{create, update, ClientError, ClientSettings};
        let settings = |f: &dyn Fn(&mut ClientSettings)| {
            let mut s = ClientSettings {
                name: Some("Svc".into()),
                grant_types: Some(vec!["client_credentials".into()]),
                audiences: Some(vec![API.into()]),
                ..ClientSettings::default()
            };
            f(&mut s);
            s
        };
        for (field, s) in [
            ("jwks_uri", settings(&|s| { s.public = Some(true); s.jwks_uri = Some("https://127.0.0.1:8443/jwks".into()) })),
            ("jwks_uri", settings(&|s| { s.public = Some(true); s.jwks_uri = Some("https://[fd00::1]/jwks".into()) })),
            ("request_uris", settings(&|s| s.request_uris = Some(vec!["https://10.1.2.3/req.jwt".into()]))),
            ("backchannel_logout_uri", settings(&|s| s.backchannel_logout_uri = Some("http://localhost:9/bc".into()))),
        ] {
            match create(&app.store, &app.state.outbound, s, 0).await {
                Err(ClientError::Invalid(e)) => {
                    assert_eq!(e.field, field);
                    assert!(e.message.contains("would never be called"), "{}", e.message);
                }
                other => panic!("{field}: {:?}", other.map(|i| i.client.id)),
            }
        }
        // A public https name passes: it is checked again on what it resolves to.
        let ok = settings(&|s| { s.public = Some(true); s.jwks_uri = Some("https://keys.example.com/jwks".into()) });
        assert!(create(&app.store, &app.state.outbound, ok, 0).await.is_ok());
        // A client kept from before the guard can still be changed otherwise.
        add_client(&app.store, "old", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.backchannel_logout_uri = Some("http://127.0.0.1:9/bc".into());
        })
        .await;
        let rename = ClientSettings { name: Some("Old app".into()), ..ClientSettings::default() };
        assert!(update(&app.store, &app.state.outbound, "old", rename, false).await.is_ok());
    }
}

/// `gatehouse_outbox_failures_total` for the back-channel queue, summed over outcomes.
async fn backchannel_failures(app: &TestApp) -> f64 {
    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("gatehouse_outbox_failures_total{") && l.contains("queue=\"backchannel\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
