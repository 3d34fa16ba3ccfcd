//! The example resource server (`examples/resource-server`) in front of a real Gatehouse:
//! what an API developer's callers see on its three routes. A local JWT check accepts
//! Gatehouse's access tokens for its audience and nothing else, follows a key rotation,
//! and keeps accepting a revoked token until it expires; introspection refuses a revoked
//! token at once; the session route knows a signed-in browser by its cookie; and when
//! Gatehouse fails or is gone the answer is a 503, never a 500.

use crate::helpers::*;
use crate::on_both_backends;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_example_resource_server as rs;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const API: &str = "https://api.example.com";

/// What a caller of the resource server sees.
pub(crate) struct Seen {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: Value,
}

pub(crate) async fn call(server: &rs::Running, path: &str, token: Option<&str>) -> Seen {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    observed(request.send().await.unwrap()).await
}

async fn with_cookie(server: &rs::Running, cookie: &str) -> Seen {
    let request = reqwest::Client::new()
        .get(server.url("/session/hello"))
        .header("cookie", cookie);
    observed(request.send().await.unwrap()).await
}

pub(crate) async fn observed(response: reqwest::Response) -> Seen {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.expect("a JSON body");
    Seen {
        status,
        challenge,
        body,
    }
}

fn assert_invalid_token(seen: &Seen, what: &str) {
    assert_eq!(seen.status, 401, "{what}: {}", seen.body);
    let challenge = seen.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{what}: {challenge:?}"
    );
    assert_eq!(seen.body["error"], "invalid_token", "{what}");
}

/// The API registered as a confidential client whose id is its audience (so introspection
/// tells it about any token meant for it), and a worker that gets client_credentials
/// tokens for it.
pub(crate) async fn register_api(app: &TestApp) -> (TestClient, TestClient) {
    let now = app.clock.now();
    let api = add_client(&app.store, API, true, now, |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.audiences = vec![API.into()];
    })
    .await;
    let worker = add_client(&app.store, "worker", true, now, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.audiences = vec![API.into()];
        c.allowed_scopes = Some(vec!["orders:read".into()]);
    })
    .await;
    (api, worker)
}

pub(crate) async fn start_api(issuer: &str, api_secret: Option<&str>) -> rs::Running {
    let mut config = rs::Config::new(issuer, API);
    config.listen = "127.0.0.1:0".parse().unwrap();
    if let Some(secret) = api_secret {
        config.introspection_client_id = Some(API.into());
        config.introspection_client_secret = Some(secret.into());
    }
    rs::start(config).await.expect("resource server starts")
}

pub(crate) async fn worker_token(app: &TestApp, worker: &TestClient) -> String {
    let response = app.token_request(worker, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn header_of(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token signed by a key that is not Gatehouse's, claiming to be from `kid`.
fn forged(key: &dyn josekit::jws::JwsSigner, kid: &str, claims: &Value) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(kid);
    let map = claims.as_object().unwrap().clone();
    let payload = josekit::jwt::JwtPayload::from_map(map).unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, key).unwrap()
}

on_both_backends! {
    async fn a_token_for_the_api_opens_the_jwt_and_introspection_routes(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let token = worker_token(&app, &worker).await;

        let jwt = call(&server, "/jwt/hello", Some(&token)).await;
        assert_eq!(jwt.status, 200, "{}", jwt.body);
        assert_eq!(jwt.body, json!({ "mode": "jwt", "sub": "worker", "scope": "orders:read" }));
        let introspected = call(&server, "/introspect/hello", Some(&token)).await;
        assert_eq!(introspected.status, 200, "{}", introspected.body);
        assert_eq!(
            introspected.body,
            json!({ "mode": "introspection", "sub": "worker", "scope": "orders:read" })
        );

        // No token at all: a challenge without an error (RFC 6750 §3.1), on both routes.
        for path in ["/jwt/hello", "/introspect/hello"] {
            let none = call(&server, path, None).await;
            assert_eq!(none.status, 401, "{path}");
            assert_eq!(none.challenge.as_deref(), Some("Bearer"), "{path}");
            assert!(none.body["error_description"].is_string(), "{path}: {}", none.body);
        }

        // Without introspection credentials that route says what to configure.
        let unconfigured = start_api(&app.base, None).await;
        let refused = call(&unconfigured, "/introspect/hello", Some(&token)).await;
        assert_eq!(refused.status, 503);
        let why = refused.body["error_description"].as_str().unwrap();
        assert!(why.contains("--introspection-client-id"), "{why}");
        assert_eq!(call(&unconfigured, "/jwt/hello", Some(&token)).await.status, 200);
    }

    async fn the_jwt_route_refuses_forged_foreign_and_id_tokens(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let token = worker_token(&app, &worker).await;
        let kid = header_of(&token)["kid"].as_str().unwrap().to_string();
        let claims = jwt_claims(&token);

        // The real signature over changed claims.
        let parts: Vec<&str> = token.split('.').collect();
        let mut changed = claims.clone();
        changed["sub"] = "admin".into();
        let tampered = format!("{}.{}.{}", parts[0], encode_json(&changed), parts[2]);
        assert_invalid_token(&call(&server, "/jwt/hello", Some(&tampered)).await, "tampered claims");

        // Gatehouse's kid and valid claims, signed by another key.
        let other = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let signer = josekit::jws::RS256.signer_from_pem(other.to_pem_private_key()).unwrap();
        let forgery = forged(&signer, &kid, &claims);
        assert_invalid_token(&call(&server, "/jwt/hello", Some(&forgery)).await, "forged signature");

        // alg none, and HS256 keyed with something public: the header never picks the algorithm.
        let none = format!(
            "{}.{}.",
            encode_json(&json!({ "alg": "none", "typ": "at+jwt", "kid": kid })),
            parts[1]
        );
        assert_invalid_token(&call(&server, "/jwt/hello", Some(&none)).await, "alg none");
        let hs_input = format!(
            "{}.{}",
            encode_json(&json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid })),
            parts[1]
        );
        let mac = {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(kid.as_bytes()).unwrap();
            mac.update(hs_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        };
        let hs256 = format!("{hs_input}.{mac}");
        assert_invalid_token(&call(&server, "/jwt/hello", Some(&hs256)).await, "HS256");

        // A user's access token from the code flow is for userinfo (aud is the issuer), not for this API.
        // (client_secret_post: the API's id has a `:`, which a bare Basic header cannot carry.)
        let (code, verifier) = app.code_for(&api).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", api.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", API),
            ("client_secret", api.secret.as_deref().unwrap()),
        ];
        let response = reqwest::Client::new().post(app.url("/token")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        let for_userinfo = tokens["access_token"].as_str().unwrap();
        assert_eq!(jwt_claims(for_userinfo)["aud"], app.base.as_str());
        let seen = call(&server, "/jwt/hello", Some(for_userinfo)).await;
        assert_invalid_token(&seen, "wrong audience");
        assert!(seen.body["error_description"].as_str().unwrap().contains("audience"));
        assert_invalid_token(
            &call(&server, "/introspect/hello", Some(for_userinfo)).await,
            "wrong audience, introspected",
        );

        // The API's own ID token: Gatehouse's signature, iss and aud all hold, yet it is
        // no access token (RFC 9068 §4: typ).
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jwt_claims(id_token)["aud"], API);
        let seen = call(&server, "/jwt/hello", Some(id_token)).await;
        assert_invalid_token(&seen, "ID token");
        assert!(seen.body["error_description"].as_str().unwrap().contains("typ"));

        // Made-up kids send the server back to the JWKS at most once per refetch interval.
        let before = server.state.jwks().fetches();
        for i in 0..20 {
            let garbage = forged(&signer, &format!("made-up-{i}"), &claims);
            assert_invalid_token(&call(&server, "/jwt/hello", Some(&garbage)).await, "unknown kid");
        }
        assert!(server.state.jwks().fetches() <= before + 1, "{} fetches", server.state.jwks().fetches() - before);

        // And the genuine token still passes after all that.
        assert_eq!(call(&server, "/jwt/hello", Some(&token)).await.status, 200);
    }

    async fn a_revoked_token_is_refused_by_introspection_at_once_but_not_by_the_jwt_check(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let token = worker_token(&app, &worker).await;
        assert_eq!(call(&server, "/introspect/hello", Some(&token)).await.status, 200);
        assert_eq!(call(&server, "/jwt/hello", Some(&token)).await.status, 200);

        let revoked = app.token_request_to("/revoke", &worker, &[("token", token.as_str())]).await;
        assert_eq!(revoked.status(), 200);

        assert_invalid_token(&call(&server, "/introspect/hello", Some(&token)).await, "revoked, introspected");
        // The trade-off of local verification: the signature and exp still hold, so the
        // token works here until it expires (keep access tokens short).
        let jwt = call(&server, "/jwt/hello", Some(&token)).await;
        assert_eq!(jwt.status, 200, "{}", jwt.body);
    }

    async fn a_key_rotation_is_picked_up_through_the_unknown_kid(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let old = worker_token(&app, &worker).await;
        let old_kid = header_of(&old)["kid"].as_str().unwrap().to_string();
        assert_eq!(call(&server, "/jwt/hello", Some(&old)).await.status, 200);
        let fetched = server.state.jwks().fetches();

        // A new key that signs at once; Gatehouse picks it up within seconds.
        let now = app.clock.now();
        let new = app.state.keys.rotate(2048, now, now).await.unwrap();
        let mut fresh = None;
        for _ in 0..80 {
            let token = worker_token(&app, &worker).await;
            if header_of(&token)["kid"] == new.kid.as_str() {
                fresh = Some(token);
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let fresh = fresh.expect("Gatehouse signs with the new key");
        assert_ne!(new.kid, old_kid);

        let seen = call(&server, "/jwt/hello", Some(&fresh)).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(server.state.jwks().fetches(), fetched + 1, "one refetch for the new kid");
        // The old key is still published, so its tokens still verify, with no more fetches.
        assert_eq!(call(&server, "/jwt/hello", Some(&old)).await.status, 200);
        assert_eq!(call(&server, "/jwt/hello", Some(&fresh)).await.status, 200);
        assert_eq!(server.state.jwks().fetches(), fetched + 1);
    }

    async fn the_session_route_knows_a_signed_in_browser_by_its_cookie(app) {
        let server = start_api(&app.base, None).await;
        let bob = create_user(&app.store, "bob", "bob@example.com", 0).await;
        let browser = signed_in_browser(&app, "bob", PASSWORD).await;

        let seen = with_cookie(&server, &browser.cookies()).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.body, json!({ "mode": "session", "sub": bob.id }));

        let none = observed(reqwest::get(server.url("/session/hello")).await.unwrap()).await;
        assert_eq!((none.status, none.body.clone()), (401, json!({ "error": "login_required" })));
        let forged = with_cookie(&server, "gatehouse_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
        assert_eq!((forged.status, forged.body), (401, json!({ "error": "login_required" })));
    }

    async fn gatehouse_failing_is_a_503_and_cached_keys_keep_the_jwt_route_up(app) {
        let (api, worker) = register_api(&app).await;
        let server = start_api(&app.base, api.secret.as_deref()).await;
        let token = worker_token(&app, &worker).await;
        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        assert_eq!(with_cookie(&server, &browser.cookies()).await.status, 200);

        // Gatehouse's database goes away: it answers 5xx, and so its callers get 503s.
        app.store.close().await;
        let introspected = call(&server, "/introspect/hello", Some(&token)).await;
        assert_eq!(introspected.status, 503, "{}", introspected.body);
        assert_eq!(introspected.body["error"], "temporarily_unavailable");
        let session = with_cookie(&server, &browser.cookies()).await;
        assert_eq!(session.status, 503, "{}", session.body);
        assert_eq!(call(&server, "/jwt/hello", Some(&token)).await.status, 200);
    }
}

/// The real `gatehouse serve`, set up with the CLI as an operator would, then killed:
/// the routes that ask Gatehouse answer 503, the JWT route keeps working on the keys it
/// holds, and a resource server that never got the keys answers 503 there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatehouse_stopped_is_a_503_on_the_routes_that_ask_it() {
    let dir = tempfile::tempdir().unwrap();
    let fast_hashing = [
        ("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "8192"),
        ("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1"),
    ];
    let cli = |args: &[&str], stdin: Option<&str>| {
        let out = crate::cli::gatehouse(dir.path(), args, &fast_hashing, stdin);
        assert!(out.status.success(), "{}", crate::cli::stderr(&out));
        crate::cli::stdout(&out)
    };
    let client = |args: &[&str]| -> Value { serde_json::from_str(&cli(args, None)).expect("client JSON") };
    let api = client(&[
        "client",
        "create",
        "--name",
        "Orders API",
        "--client-id",
        API,
        "--grant-type",
        "client_credentials",
        "--audience",
        API,
        "--json",
    ]);
    let worker = client(&[
        "client",
        "create",
        "--name",
        "Worker",
        "--grant-type",
        "client_credentials",
        "--audience",
        API,
        "--json",
    ]);
    cli(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    let mut gatehouse = ServedBinary::start(dir.path(), free_port(), &fast_hashing).await;

    let token: Value = reqwest::Client::new()
        .post(format!("{}/token", gatehouse.base))
        .basic_auth(worker["client_id"].as_str().unwrap(), worker["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("access token");
    let browser = Browser::new(&gatehouse.base);
    let login = browser.get("/login").await.text().await.unwrap();
    assert_eq!(browser.submit_login(&login, "carol", PASSWORD).await.status(), 303);
    let cookie = browser.cookies();

    let server = start_api(&gatehouse.base, api["client_secret"].as_str()).await;
    assert_eq!(call(&server, "/introspect/hello", Some(token)).await.status, 200);
    assert_eq!(with_cookie(&server, &cookie).await.status, 200);

    gatehouse.kill();
    for seen in [
        call(&server, "/introspect/hello", Some(token)).await,
        with_cookie(&server, &cookie).await,
    ] {
        assert_eq!(seen.status, 503, "{}", seen.body);
        assert_eq!(seen.body["error"], "temporarily_unavailable");
    }
    assert_eq!(
        call(&server, "/jwt/hello", Some(token)).await.status,
        200,
        "keys held in memory"
    );

    let started_late = start_api(&gatehouse.base, None).await;
    let seen = call(&started_late, "/jwt/hello", Some(token)).await;
    assert_eq!(seen.status, 503, "no keys to verify with: {}", seen.body);
}
