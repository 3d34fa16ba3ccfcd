//! DPoP (RFC 9449): a proof at /token binds the access token to the client's key
//! (`cnf.jkt`, `token_type: DPoP`) for every grant, and a public client's refresh tokens
//! too; /userinfo then wants `Authorization: DPoP` and a proof with that key, and
//! introspection shows the binding. Replayed, mistargeted and stale proofs are refused;
//! with `dpop.require_nonce` the server hands out the nonce first. Without a proof,
//! nothing changes.

use crate::helpers::*;
use crate::{on_both_backends, on_both_backends_with};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsHeader, JwsSigner, ES256, RS256};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A client's DPoP key pair, and its RFC 7638 thumbprint computed here, not by the server.
pub struct DpopKey {
    signer: Box<dyn JwsSigner>,
    public: josekit::jwk::Jwk,
    pub jkt: String,
}

impl DpopKey {
    pub fn es256() -> DpopKey {
        let pair = ES256.generate_key_pair().unwrap();
        let public = pair.to_jwk_public_key();
        let p = |name: &str| public.parameter(name).unwrap().as_str().unwrap().to_string();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, p("x"), p("y"));
        DpopKey {
            signer: Box::new(ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap()),
            jkt: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
            public,
        }
    }

    fn rs256() -> DpopKey {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let public = pair.to_jwk_public_key();
        let p = |name: &str| public.parameter(name).unwrap().as_str().unwrap().to_string();
        let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, p("e"), p("n"));
        DpopKey {
            signer: Box::new(RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap()),
            jkt: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
            public,
        }
    }

    /// A proof with exactly these claims, under a header with `typ` and this key.
    fn sign(&self, typ: &str, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_jwk(self.public.clone());
        let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        josekit::jwt::encode_with_signer(&payload, &header, self.signer.as_ref()).unwrap()
    }

    /// A fresh proof for `htm` at `htu`, with `extra` claims (ath, nonce, or overrides).
    fn proof(&self, app: &TestApp, htm: &str, htu: &str, extra: Value) -> String {
        self.proof_at(app.clock.now(), htm, htu, extra)
    }

    /// As `proof`, made at `iat`.
    pub fn proof_at(&self, iat: i64, htm: &str, htu: &str, extra: Value) -> String {
        let mut claims = json!({
            "jti": gatehouse::secrets::random_id(),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.sign("dpop+jwt", claims)
    }

    fn token_proof(&self, app: &TestApp) -> String {
        self.proof(app, "POST", &app.url("/token"), json!({}))
    }

    fn userinfo_proof(&self, app: &TestApp, access_token: &str) -> String {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
        self.proof(app, "GET", &app.url("/userinfo"), json!({ "ath": ath }))
    }
}

/// POSTs `form` to `path` as `client`, with `proof` in the DPoP header.
async fn post_with_proof(
    app: &TestApp,
    path: &str,
    client: &TestClient,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> reqwest::Response {
    let mut form = form.to_vec();
    let mut request = reqwest::Client::new().post(app.url(path));
    match &client.secret {
        Some(secret) => request = request.basic_auth(&client.id, Some(secret)),
        None => form.push(("client_id", &client.id)),
    }
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.form(&form).send().await.unwrap()
}

async fn redeem_with_proof(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &client.redirect_uri),
        ("code_verifier", verifier),
    ];
    post_with_proof(app, "/token", client, &form, proof).await
}

/// Signs in and redeems a code with a proof by `key`: the token response.
async fn bound_tokens(app: &TestApp, client: &TestClient, key: &DpopKey, extra: &[(&str, &str)]) -> Value {
    let (code, verifier) = app.code_with(client, extra).await;
    let response = redeem_with_proof(app, client, &code, &verifier, Some(&key.token_proof(app))).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// GET /userinfo with `authorization` and, if given, a DPoP proof.
async fn userinfo(app: &TestApp, authorization: &str, proof: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

/// The `error` and `error_description` of a JSON error response, with its status.
async fn refusal(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let text = |name: &str| body[name].as_str().unwrap_or("(none)").to_string();
    (status, text("error"), text("error_description"))
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app
        .token_request_to("/introspect", &app.client, &[("token", token)])
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A client for the client credentials grant, whose tokens are for one resource.
async fn service(app: &TestApp) -> TestClient {
    add_client(&app.store, "service", true, app.clock.now(), |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.allowed_scopes = Some(vec!["read".into()]);
        c.audiences = vec!["https://api.example".into()];
    })
    .await
}

async fn client_credentials(app: &TestApp, client: &TestClient, proof: Option<&str>) -> reqwest::Response {
    post_with_proof(app, "/token", client, &[("grant_type", "client_credentials")], proof).await
}

fn require_nonce(raw: &mut gatehouse::config::RawConfig) {
    raw.dpop.require_nonce = true;
}

on_both_backends! {
    async fn a_client_that_requires_dpop_gets_no_token_without_a_proof(app) {
        let strict = add_client(&app.store, "strict", true, app.clock.now(), |c| {
            c.grant_types = vec!["client_credentials".into()];
            c.audiences = vec!["https://api.example".into()];
            c.require_dpop = true;
        })
        .await;
        let refused = client_credentials(&app, &strict, None).await;
        let (status, error, _) = refusal(refused).await;
        assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"));
        let key = DpopKey::es256();
        let bound = client_credentials(&app, &strict, Some(&key.token_proof(&app))).await;
        assert_eq!(bound.status(), 200);
        let body: Value = bound.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP");
        // Others still get bearer tokens without a proof.
        let service = service(&app).await;
        assert_eq!(client_credentials(&app, &service, None).await.status(), 200);
    }

    async fn a_dpop_bound_admin_token_sent_as_bearer_opens_nothing(app) {
        let admin = crate::admin_api::automation(&app, "automation", &[gatehouse::clients::ADMIN_SCOPE]).await;
        let key = DpopKey::es256();
        let resource = app.url("/admin/api/v1");
        let form = [("grant_type", "client_credentials"), ("resource", resource.as_str())];
        let issued = post_with_proof(&app, "/token", &admin, &form, Some(&key.token_proof(&app))).await;
        assert_eq!(issued.status(), 200);
        let body: Value = issued.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP");
        let bound = body["access_token"].as_str().unwrap();
        let (status, error) = crate::admin_api::call(&app, Some(bound), "GET", "/clients", None).await;
        assert_eq!(status, 401, "{error}");
        assert_eq!(error["error"], "invalid_token");
        // The same client's unbound token works: the refusal is the binding's.
        let plain = crate::admin_api::token_for(&app, &admin).await;
        assert_eq!(crate::admin_api::call(&app, Some(&plain), "GET", "/clients", None).await.0, 200);
    }

    async fn a_proof_binds_the_access_token_to_the_key(app) {
        let key = DpopKey::es256();
        let tokens = bound_tokens(&app, &app.client, &key, &[]).await;
        assert_eq!(tokens["token_type"], "DPoP");
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(jwt_claims(access)["cnf"], json!({ "jkt": key.jkt }));

        // RFC 9449 §6.2: introspection says so too.
        let answer = introspect(&app, access).await;
        assert_eq!(answer["active"], true);
        assert_eq!(answer["token_type"], "DPoP");
        assert_eq!(answer["cnf"]["jkt"], key.jkt.as_str());

        // An RSA key binds as well.
        let rsa = DpopKey::rs256();
        let tokens = bound_tokens(&app, &app.client, &rsa, &[]).await;
        assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"], rsa.jkt.as_str());
    }

    async fn userinfo_wants_the_dpop_scheme_and_a_proof_with_the_bound_key(app) {
        let key = DpopKey::es256();
        let tokens = bound_tokens(&app, &app.client, &key, &[]).await;
        let access = tokens["access_token"].as_str().unwrap();

        let ok = userinfo(&app, &format!("DPoP {access}"), Some(&key.userinfo_proof(&app, access))).await;
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.json::<Value>().await.unwrap()["sub"], app.user.id.as_str());

        // §7.2: the bound token as a bearer token is refused, with a DPoP challenge.
        let bearer = userinfo(&app, &format!("Bearer {access}"), None).await;
        assert_eq!(bearer.status(), 401);
        let challenge = bearer.headers()["www-authenticate"].to_str().unwrap().to_string();
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");

        // No proof, another key's proof, a proof for another token, a replayed proof.
        let none = userinfo(&app, &format!("DPoP {access}"), None).await;
        assert_eq!(refusal(none).await.1, "invalid_dpop_proof");
        let other = DpopKey::es256();
        let wrong_key = userinfo(&app, &format!("DPoP {access}"), Some(&other.userinfo_proof(&app, access))).await;
        assert_eq!(wrong_key.status(), 401);
        assert!(wrong_key.headers()["www-authenticate"].to_str().unwrap().contains("invalid_dpop_proof"));
        let (_, error, description) = refusal(wrong_key).await;
        assert_eq!(error, "invalid_dpop_proof");
        assert!(description.contains("bound to"), "{description}");
        let wrong_ath = userinfo(&app, &format!("DPoP {access}"), Some(&key.userinfo_proof(&app, "another-token"))).await;
        let (status, error, description) = refusal(wrong_ath).await;
        assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"));
        assert!(description.contains("ath"), "{description}");
        let proof = key.userinfo_proof(&app, access);
        assert_eq!(userinfo(&app, &format!("DPoP {access}"), Some(&proof)).await.status(), 200);
        let replay = userinfo(&app, &format!("DPoP {access}"), Some(&proof)).await;
        assert_eq!(refusal(replay).await.1, "invalid_dpop_proof");
    }

    async fn tokens_without_a_proof_are_unchanged(app) {
        let tokens = app.tokens_with(&app.client, &[]).await;
        assert_eq!(tokens["token_type"], "Bearer");
        let access = tokens["access_token"].as_str().unwrap();
        assert!(jwt_claims(access).get("cnf").is_none());
        let answer = introspect(&app, access).await;
        assert_eq!(answer["token_type"], "Bearer");
        assert!(answer.get("cnf").is_none());
        let ok = userinfo(&app, &format!("Bearer {access}"), None).await;
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().get("dpop-nonce").is_none());
        // An unbound token under the DPoP scheme is not what it claims to be.
        let key = DpopKey::es256();
        let as_dpop = userinfo(&app, &format!("DPoP {access}"), Some(&key.userinfo_proof(&app, access))).await;
        assert_eq!(as_dpop.status(), 401);
        assert_eq!(refusal(as_dpop).await.1, "invalid_token");
    }

    async fn a_replayed_proof_is_refused(app) {
        let client = service(&app).await;
        let key = DpopKey::es256();
        let proof = key.token_proof(&app);
        let first = client_credentials(&app, &client, Some(&proof)).await;
        assert_eq!(first.status(), 200);
        let tokens: Value = first.json().await.unwrap();
        assert_eq!(tokens["token_type"], "DPoP");
        assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt.as_str());
        let (status, error, description) = refusal(client_credentials(&app, &client, Some(&proof)).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"));
        assert!(description.contains("already used"), "{description}");
        // A fresh proof from the same key is fine.
        assert_eq!(client_credentials(&app, &client, Some(&key.token_proof(&app))).await.status(), 200);

        // The janitor forgets proofs once their iat would be refused anyway.
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM dpop_proofs")
                .fetch_one(app.store.pool())
                .await
                .unwrap()
        };
        assert_eq!(count().await, 2);
        app.clock.advance(120);
        gatehouse::janitor::sweep(&app.state).await;
        assert_eq!(count().await, 0);
    }

    async fn mistargeted_stale_or_malformed_proofs_are_refused(app) {
        let client = service(&app).await;
        let key = DpopKey::es256();
        let token_url = app.url("/token");
        let now = app.clock.now();
        let cases = [
            (key.proof(&app, "GET", &token_url, json!({})), "htm"),
            (key.proof(&app, "POST", &app.url("/userinfo"), json!({})), "htu"),
            (key.proof(&app, "POST", "https://elsewhere.example/token", json!({})), "htu"),
            (key.proof(&app, "POST", &token_url, json!({ "iat": now - 600 })), "iat"),
            (key.proof(&app, "POST", &token_url, json!({ "iat": now + 600 })), "iat"),
            (key.sign("JWT", json!({ "jti": "j1", "htm": "POST", "htu": token_url, "iat": now })), "typ"),
            (key.sign("dpop+jwt", json!({ "htm": "POST", "htu": token_url, "iat": now })), "jti"),
            ("not-a-jwt".to_string(), "JWT"),
        ];
        for (proof, reason) in cases {
            let (status, error, description) = refusal(client_credentials(&app, &client, Some(&proof)).await).await;
            assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"), "{reason}");
            assert!(description.contains(reason), "{reason}: {description}");
        }
        // The query and fragment of htu do not count (§4.3).
        let with_query = key.proof(&app, "POST", &format!("{token_url}?x=1#top"), json!({}));
        assert_eq!(client_credentials(&app, &client, Some(&with_query)).await.status(), 200);

        // alg none, and a header whose jwk carries the private key.
        let jwk: &serde_json::Map<String, Value> = key.public.as_ref();
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({ "typ": "dpop+jwt", "alg": "none", "jwk": jwk }).to_string()),
            URL_SAFE_NO_PAD.encode(json!({ "jti": "j2", "htm": "POST", "htu": token_url, "iat": now }).to_string()),
        );
        let (_, error, description) = refusal(client_credentials(&app, &client, Some(&unsigned)).await).await;
        assert_eq!(error, "invalid_dpop_proof");
        assert!(description.contains("alg"), "{description}");
        let pair = ES256.generate_key_pair().unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(pair.to_jwk_private_key());
        let claims = json!({ "jti": "j3", "htm": "POST", "htu": token_url, "iat": now });
        let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let signer = ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        let leaky = josekit::jwt::encode_with_signer(&payload, &header, &signer).unwrap();
        let (_, error, description) = refusal(client_credentials(&app, &client, Some(&leaky)).await).await;
        assert_eq!(error, "invalid_dpop_proof");
        assert!(description.contains("private"), "{description}");
    }

    async fn a_public_clients_refresh_token_is_bound_to_its_key(app) {
        let key = DpopKey::es256();
        let client = app.public_client.clone();
        let tokens = bound_tokens(&app, &client, &key, &[("scope", "openid offline_access")]).await;
        let refresh = tokens["refresh_token"].as_str().expect("refresh token");
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];

        let other = DpopKey::es256();
        let (status, error, description) =
            refusal(post_with_proof(&app, "/token", &client, &form, Some(&other.token_proof(&app))).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"));
        assert!(description.contains("another DPoP key"), "{description}");
        let (status, error, _) = refusal(post_with_proof(&app, "/token", &client, &form, None).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"));

        // Neither refusal spent it: the holder of the key still can.
        let response = post_with_proof(&app, "/token", &client, &form, Some(&key.token_proof(&app))).await;
        assert_eq!(response.status(), 200);
        let renewed: Value = response.json().await.unwrap();
        assert_eq!(renewed["token_type"], "DPoP");
        assert_eq!(jwt_claims(renewed["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt.as_str());
        // The rotated token keeps the binding.
        let next = [("grant_type", "refresh_token"), ("refresh_token", renewed["refresh_token"].as_str().unwrap())];
        let (_, error, _) = refusal(post_with_proof(&app, "/token", &client, &next, Some(&other.token_proof(&app))).await).await;
        assert_eq!(error, "invalid_dpop_proof");
    }

    async fn a_confidential_clients_refresh_binds_each_access_token_anew(app) {
        let key = DpopKey::es256();
        let tokens = bound_tokens(&app, &app.client, &key, &[("scope", "openid offline_access")]).await;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        // Its refresh token is bound to its authentication, not to the key (§5).
        let other = DpopKey::es256();
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        let response = post_with_proof(&app, "/token", &app.client, &form, Some(&other.token_proof(&app))).await;
        assert_eq!(response.status(), 200);
        let renewed: Value = response.json().await.unwrap();
        assert_eq!(jwt_claims(renewed["access_token"].as_str().unwrap())["cnf"]["jkt"], other.jkt.as_str());
        // And without a proof, a bearer token again.
        let form = [("grant_type", "refresh_token"), ("refresh_token", renewed["refresh_token"].as_str().unwrap())];
        let bearer: Value = post_with_proof(&app, "/token", &app.client, &form, None).await.json().await.unwrap();
        assert_eq!(bearer["token_type"], "Bearer");
    }

    async fn dpop_jkt_binds_the_code_to_a_key(app) {
        let key = DpopKey::es256();
        let other = DpopKey::es256();
        let (code, verifier) = app.code_with(&app.client, &[("dpop_jkt", &key.jkt)]).await;
        let (status, error, description) =
            refusal(redeem_with_proof(&app, &app.client, &code, &verifier, Some(&other.token_proof(&app))).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"));
        assert!(description.contains("dpop_jkt"), "{description}");

        let (code, verifier) = app.code_with(&app.client, &[("dpop_jkt", &key.jkt)]).await;
        let (_, error, _) = refusal(redeem_with_proof(&app, &app.client, &code, &verifier, None).await).await;
        assert_eq!(error, "invalid_dpop_proof");

        let tokens = bound_tokens(&app, &app.client, &key, &[("dpop_jkt", &key.jkt)]).await;
        assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt.as_str());

        // A malformed dpop_jkt goes back to the client as invalid_request.
        let (url, _) = app.authorize_url(&app.client, &[("dpop_jkt", "short")]);
        let to = location(app.browser().get(&url).await.headers()).expect("a redirect to the client");
        assert!(to.starts_with(&app.client.redirect_uri), "{to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
    }

    async fn a_proof_at_par_binds_the_pushed_requests_code(app) {
        let key = DpopKey::es256();
        let verifier = "a-dpop-pushed-request-verifier-that-is-long-enough-0123456789";
        let challenge = pkce_challenge(verifier);
        let form = [
            ("client_id", app.client.id.as_str()),
            ("redirect_uri", app.client.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let proof = key.proof(&app, "POST", &app.url("/par"), json!({}));
        let pushed = post_with_proof(&app, "/par", &app.client, &form, Some(&proof)).await;
        assert_eq!(pushed.status(), 201);
        let pushed: Value = pushed.json().await.unwrap();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &app.client.id)
            .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
            .finish();
        let to = app.browser().sign_in(&app.url(&format!("/authorize?{query}")), &app.user.username, PASSWORD).await;
        let code = query_param(&to, "code").unwrap();
        let other = DpopKey::es256();
        let (_, error, _) =
            refusal(redeem_with_proof(&app, &app.client, &code, verifier, Some(&other.token_proof(&app))).await).await;
        assert_eq!(error, "invalid_dpop_proof");
    }

    async fn the_device_grant_binds_too(app) {
        let tv = add_client(&app.store, "tv-app", false, app.clock.now(), |c| {
            c.grant_types = vec![gatehouse::clients::DEVICE_CODE_GRANT.into(), "refresh_token".into()];
        })
        .await;
        let started: Value = app
            .token_request_to("/device_authorization", &tv, &[("scope", "openid offline_access")])
            .await
            .json()
            .await
            .unwrap();
        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let page = browser.get("/device").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf_token").unwrap();
        let user_code = started["user_code"].as_str().unwrap();
        browser.post_form("/device", &[("csrf_token", &csrf), ("user_code", user_code)]).await;
        let done = browser
            .post_form("/device/decide", &[("csrf_token", &csrf), ("user_code", user_code), ("decision", "allow")])
            .await;
        assert_eq!(done.status(), 200);
        let key = DpopKey::es256();
        let form = [
            ("grant_type", gatehouse::clients::DEVICE_CODE_GRANT),
            ("device_code", started["device_code"].as_str().unwrap()),
        ];
        let tokens: Value = post_with_proof(&app, "/token", &tv, &form, Some(&key.token_proof(&app)))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
        assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt.as_str());
        // A public client: its refresh token is bound to the key.
        let refresh = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
        let (_, error, _) = refusal(post_with_proof(&app, "/token", &tv, &refresh, None).await).await;
        assert_eq!(error, "invalid_dpop_proof");
    }
}

on_both_backends_with! {
    require_nonce;

    async fn a_required_nonce_is_handed_out_then_accepted(app) {
        let client = service(&app).await;
        let key = DpopKey::es256();
        let first = client_credentials(&app, &client, Some(&key.token_proof(&app))).await;
        assert_eq!(first.status(), 400);
        let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
        assert!(nonce.len() >= 22, "{nonce}");
        let (_, error, _) = refusal(first).await;
        assert_eq!(error, "use_dpop_nonce");

        let wrong = key.proof(&app, "POST", &app.url("/token"), json!({ "nonce": "made-up" }));
        let (status, error, _) = refusal(client_credentials(&app, &client, Some(&wrong)).await).await;
        assert_eq!((status, error.as_str()), (400, "use_dpop_nonce"));

        let with_nonce = key.proof(&app, "POST", &app.url("/token"), json!({ "nonce": nonce }));
        let response = client_credentials(&app, &client, Some(&with_nonce)).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("dpop-nonce"), "the next nonce comes with every answer");
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "DPoP");

        // Long after, the nonce is stale, and a new one is handed out.
        app.clock.advance(1000);
        let late = key.proof(&app, "POST", &app.url("/token"), json!({ "nonce": nonce }));
        let response = client_credentials(&app, &client, Some(&late)).await;
        assert_ne!(response.headers()["dpop-nonce"].to_str().unwrap(), nonce);
        assert_eq!(refusal(response).await.1, "use_dpop_nonce");

        // The same at /par.
        let form = [
            ("client_id", app.client.id.as_str()),
            ("redirect_uri", app.client.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ];
        let proof = key.proof(&app, "POST", &app.url("/par"), json!({}));
        let pushed = post_with_proof(&app, "/par", &app.client, &form, Some(&proof)).await;
        let nonce = pushed.headers()["dpop-nonce"].to_str().unwrap().to_string();
        assert_eq!(refusal(pushed).await.1, "use_dpop_nonce");
        let proof = key.proof(&app, "POST", &app.url("/par"), json!({ "nonce": nonce }));
        assert_eq!(post_with_proof(&app, "/par", &app.client, &form, Some(&proof)).await.status(), 201);

        // A request without DPoP is not asked for a nonce.
        let plain = client_credentials(&app, &client, None).await;
        assert_eq!(plain.status(), 200);
        assert!(plain.headers().get("dpop-nonce").is_none());
    }
}
