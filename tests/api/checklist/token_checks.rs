//! Checklist section B, how Gatehouse checks the tokens it issued: algorithms other than
//! RS256 in the header, even with a signature our own key really made (B1); an access
//! token where an ID token belongs and the reverse (B3); and `nbf`, `exp`, `iss` and
//! `aud` (B4). The forgeries are made with the test deployment's own signing key (opened
//! from the database), so only Gatehouse's checks can refuse them.

use super::*;
use crate::on_both_backends;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::KeyPair;
use josekit::jws::{JwsHeader, JwsSigner, HS256, HS384, HS512, PS256, PS384, PS512, RS256, RS384, RS512};
use josekit::jwt::JwtPayload;
use serde_json::{json, Map, Value};

/// The deployment's signing key: its kid and PKCS#8 PEM. (Blocking on the store is fine
/// in these multi-threaded tests and keeps the forging helpers plain functions.)
fn our_key(app: &TestApp) -> (String, Vec<u8>) {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async {
            let stored = app.state.keys.stored().await.unwrap();
            assert_eq!(stored.len(), 1, "one signing key");
            let kid = stored[0].kid.clone();
            let pem = app.state.keys.private_pem(&kid).await.unwrap();
            (kid, pem)
        })
    })
}

fn header_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
}

/// `claims` signed by `signer` with a header of `typ` and `kid`.
fn sign(signer: &dyn JwsSigner, typ: &str, kid: &str, claims: &Map<String, Value>) -> String {
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(kid);
    josekit::jwt::encode_with_signer(&JwtPayload::from_map(claims.clone()).unwrap(), &header, signer).unwrap()
}

/// A token with a hand-written header and the claims of `real`, with `signature`.
fn with_header(header: Value, real: &str, signature: &str) -> String {
    let payload = real.split('.').nth(1).unwrap();
    format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// Copies of `real` (same `typ`, `kid` and claims) that are not RS256: signed with our own
/// RSA key under RS384, RS512 and PS256-512; HMAC-signed with our public key in each form
/// a confused verifier might use as the secret; and unsigned (`none` in any case, or no
/// `alg` at all).
fn other_algorithms(app: &TestApp, real: &str) -> Vec<(String, String)> {
    let (kid, pem) = our_key(app);
    let header = header_of(real);
    let typ = header["typ"].as_str().unwrap();
    assert_eq!(header["kid"], kid.as_str(), "the token is signed with the key on disk");
    let claims = jwt_claims(real).as_object().unwrap().clone();
    let mut forged = Vec::new();
    let pair = RsaKeyPair::from_pem(&pem).unwrap();
    let private_jwk = pair.to_jwk_private_key();
    let rsa: [(&str, Box<dyn JwsSigner>); 5] = [
        ("RS384", Box::new(RS384.signer_from_pem(&pem).unwrap())),
        ("RS512", Box::new(RS512.signer_from_pem(&pem).unwrap())),
        ("PS256", Box::new(PS256.signer_from_jwk(&private_jwk).unwrap())),
        ("PS384", Box::new(PS384.signer_from_jwk(&private_jwk).unwrap())),
        ("PS512", Box::new(PS512.signer_from_jwk(&private_jwk).unwrap())),
    ];
    for (alg, signer) in rsa {
        forged.push((
            format!("{alg} signed with our own key"),
            sign(signer.as_ref(), typ, &kid, &claims),
        ));
    }
    let public_jwk = pair.to_jwk_public_key();
    let n = public_jwk.parameter("n").unwrap().as_str().unwrap().to_string();
    let secrets: [(&str, Vec<u8>); 4] = [
        ("the public key PEM", pair.to_pem_public_key()),
        ("the public key DER", pair.to_der_public_key()),
        ("the modulus n", n.clone().into_bytes()),
        (
            "the JWK JSON",
            serde_json::to_vec(&Value::Object(public_jwk.as_ref().clone())).unwrap(),
        ),
    ];
    for (what, secret) in &secrets {
        let hmac: [(&str, Box<dyn JwsSigner>); 3] = [
            ("HS256", Box::new(HS256.signer_from_bytes(secret).unwrap())),
            ("HS384", Box::new(HS384.signer_from_bytes(secret).unwrap())),
            ("HS512", Box::new(HS512.signer_from_bytes(secret).unwrap())),
        ];
        for (alg, signer) in hmac {
            forged.push((
                format!("{alg} keyed with {what}"),
                sign(signer.as_ref(), typ, &kid, &claims),
            ));
        }
    }
    let real_signature = real.split('.').nth(2).unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": typ, "kid": kid });
        forged.push((
            format!("alg {alg}, no signature"),
            with_header(header.clone(), real, ""),
        ));
        forged.push((
            format!("alg {alg}, the real signature"),
            with_header(header, real, real_signature),
        ));
    }
    forged.push((
        "no alg at all".into(),
        with_header(json!({ "typ": typ, "kid": kid }), real, real_signature),
    ));
    // Each forgery is a well-formed JWS of the claimed algorithm.
    for (case, token) in &forged {
        let alg = header_of(token)["alg"].as_str().unwrap_or("(none)").to_string();
        assert_ne!(alg, "RS256", "{case}");
    }
    forged
}

/// `real` re-signed with our key as RS256, with `change` applied to its claims.
fn resigned(app: &TestApp, real: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let (kid, pem) = our_key(app);
    let typ = header_of(real)["typ"].as_str().unwrap().to_string();
    let mut claims = jwt_claims(real).as_object().unwrap().clone();
    change(&mut claims);
    sign(&RS256.signer_from_pem(&pem).unwrap(), &typ, &kid, &claims)
}

/// What `client` learns about `token` at /introspect.
async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let response = app.token_request_to("/introspect", client, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Asserts `token` is refused as a bearer token: 401 invalid_token at /userinfo (header
/// and form), `{"active": false}` and nothing else at /introspect for `client`, the client
/// the real token was issued to.
async fn assert_refused_bearer(app: &TestApp, client: &TestClient, token: &str, case: &str) {
    let http = reqwest::Client::new();
    let by_header = http.get(app.url("/userinfo")).bearer_auth(token).send().await.unwrap();
    let by_form = http
        .post(app.url("/userinfo"))
        .form(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    for (how, response) in [("header", by_header), ("form", by_form)] {
        assert_eq!(response.status(), 401, "userinfo ({how}), {case}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_string();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "userinfo ({how}), {case}: {challenge}"
        );
    }
    assert_eq!(
        introspect(app, client, token).await,
        json!({ "active": false }),
        "introspection, {case}"
    );
}

/// What /authorize answers `browser` for `rp` with `hint` as id_token_hint: Ok(code) or
/// Err(error), from a redirect to the registered URI.
async fn authorize_with_hint(app: &TestApp, browser: &Browser, rp: &TestClient, hint: &str) -> Result<String, String> {
    let (url, _) = app.authorize_url(rp, &[("id_token_hint", hint)]);
    let response = browser.get(&url).await;
    assert_eq!(response.status(), 302, "id_token_hint answers go back to the app");
    let to = location(response.headers()).unwrap();
    assert!(to.starts_with(&format!("{CONFIDENTIAL_REDIRECT}?")), "{to}");
    query_param(&to, "code").ok_or_else(|| query_param(&to, "error").unwrap_or_default())
}

/// Asserts /logout with `hint` (and the RP's registered return URI) neither signs out nor
/// redirects: the user is asked.
async fn assert_logout_asks(browser: &Browser, hint: &str, case: &str) {
    let query = serde_urlencoded::to_string([
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", PLRU),
        ("state", "s"),
    ])
    .unwrap();
    let response = browser.get(&format!("/logout?{query}")).await;
    assert_eq!(response.status(), 200, "logout, {case}");
    assert!(location(response.headers()).is_none(), "logout redirected, {case}");
    assert!(
        response.text().await.unwrap().contains("Sign out?"),
        "logout asks first, {case}"
    );
}

on_both_backends! {
    async fn b1_tokens_with_any_algorithm_but_rs256_are_refused(app) {
        let (rp, browser, tokens) = rp_signed_in(&app).await;
        let access_token = tokens["access_token"].as_str().unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        // Re-signed as RS256 with the same key, the same claims pass: what refuses the
        // forgeries below is their algorithm.
        let control = resigned(&app, access_token, |_| {});
        assert_eq!(app.userinfo_status(&control).await, 200);
        assert_eq!(introspect(&app, &rp, &control).await["active"], true);

        for (case, forged) in other_algorithms(&app, access_token) {
            assert_refused_bearer(&app, &rp, &forged, &case).await;
        }
        for (case, forged) in other_algorithms(&app, id_token) {
            let answer = authorize_with_hint(&app, &browser, &rp, &forged).await;
            assert_eq!(answer, Err("invalid_request".to_string()), "authorize id_token_hint, {case}");
            assert_logout_asks(&browser, &forged, &case).await;
        }
        // Still signed in, and the real tokens still work.
        assert!(authorize_with_hint(&app, &browser, &rp, id_token).await.is_ok());
        assert_eq!(app.userinfo_status(access_token).await, 200);
    }

    async fn b3_an_access_token_is_no_id_token_hint_and_an_id_token_no_bearer_token(app) {
        let (rp, browser, tokens) = rp_signed_in(&app).await;
        let access_token = tokens["access_token"].as_str().unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jwt_claims(access_token)["sub"], jwt_claims(id_token)["sub"], "both name alice");

        // An ID token as a bearer token, at every place that takes one.
        assert_refused_bearer(&app, &rp, id_token, "ID token as bearer").await;
        let revoked = app.token_request_to("/revoke", &rp, &[("token", id_token)]).await;
        assert_eq!(revoked.status(), 200, "revoking a token that is none of ours is a no-op");
        assert_eq!(app.userinfo_status(access_token).await, 200, "the ID token revoked nothing");

        // An access token as id_token_hint: refused at /authorize, and at /logout the user
        // is asked instead of being signed out.
        assert_eq!(authorize_with_hint(&app, &browser, &rp, access_token).await, Err("invalid_request".to_string()));
        assert_logout_asks(&browser, access_token, "access token as hint").await;
        // The same at /logout when alice's session is gone: no redirect to the app.
        let signed_out = app.browser();
        let query = serde_urlencoded::to_string([("id_token_hint", access_token), ("post_logout_redirect_uri", PLRU), ("state", "s")]).unwrap();
        let response = signed_out.get(&format!("/logout?{query}")).await;
        assert_eq!(response.status(), 200);
        assert!(location(response.headers()).is_none(), "no redirect on an access token's word");

        // The real ID token does what the access token could not.
        assert!(authorize_with_hint(&app, &browser, &rp, id_token).await.is_ok());
        let query = serde_urlencoded::to_string([("id_token_hint", id_token), ("post_logout_redirect_uri", PLRU), ("state", "s")]).unwrap();
        let response = browser.get(&format!("/logout?{query}")).await;
        assert_eq!(location(response.headers()), Some(format!("{PLRU}?state=s")));
    }

    async fn b4_tokens_carry_no_nbf_expire_without_leeway_and_need_our_iss_and_aud(app) {
        let before = app.clock.now();
        let tokens = app.tokens_with(&app.client, &[("scope", "openid email offline_access")]).await;
        let refreshed: Value = app.refresh(&app.client, tokens["refresh_token"].as_str().unwrap(), &[]).await.json().await.unwrap();
        let after = app.clock.now();
        let access_token = refreshed["access_token"].as_str().unwrap().to_string();
        // Gatehouse never puts `nbf` in a token: validity starts at `iat`, which is now.
        for (name, jwt) in [
            ("access token", tokens["access_token"].as_str().unwrap()),
            ("ID token", tokens["id_token"].as_str().unwrap()),
            ("refreshed access token", &access_token),
            ("refreshed ID token", refreshed["id_token"].as_str().unwrap()),
        ] {
            let claims = jwt_claims(jwt);
            assert!(claims.get("nbf").is_none(), "{name} has nbf: {claims}");
            let iat = claims["iat"].as_i64().unwrap();
            assert!((before..=after).contains(&iat), "{name}: iat {iat} outside [{before}, {after}]");
            assert!(claims["exp"].as_i64().unwrap() > iat, "{name}");
        }

        // Wrong issuer or audience, signed with our own key: refused.
        let issuer = app.base.clone();
        let forged = [
            ("another issuer", resigned(&app, &access_token, |c| { c.insert("iss".into(), "https://evil.example".into()); })),
            ("our issuer with a trailing slash", resigned(&app, &access_token, |c| { c.insert("iss".into(), format!("{issuer}/").into()); })),
            ("no issuer", resigned(&app, &access_token, |c| { c.remove("iss"); })),
            ("another audience", resigned(&app, &access_token, |c| { c.insert("aud".into(), "https://api.example.com".into()); })),
            ("no audience", resigned(&app, &access_token, |c| { c.remove("aud"); })),
            ("no expiry", resigned(&app, &access_token, |c| { c.remove("exp"); })),
            ("expired a second ago", resigned(&app, &access_token, |c| { c.insert("exp".into(), (app.clock.now() - 1).into()); })),
        ];
        for (case, token) in &forged {
            assert_eq!(app.userinfo_status(token).await, 401, "{case}");
        }
        for (case, token) in &forged[..3] {
            assert_eq!(introspect(&app, &app.client, token).await, json!({ "active": false }), "{case}");
        }
        assert_eq!(app.userinfo_status(&resigned(&app, &access_token, |_| {})).await, 200, "the unchanged claims pass");

        // `exp` is compared with no leeway: good until just before, refused from then on.
        let exp = jwt_claims(&access_token)["exp"].as_i64().unwrap();
        app.clock.advance(exp - app.clock.now() - 5);
        assert_eq!(app.userinfo_status(&access_token).await, 200, "5 s before exp");
        assert_eq!(introspect(&app, &app.client, &access_token).await["active"], true);
        app.clock.advance(exp - app.clock.now());
        assert!(app.clock.now() >= exp);
        assert_eq!(app.userinfo_status(&access_token).await, 401, "at exp");
        assert_eq!(introspect(&app, &app.client, &access_token).await, json!({ "active": false }));
    }
}
