//! Checklist section B, tokens and keys: tokens whose header names its own key (`jwk`,
//! `jku`, `x5u`, `x5c`), signed with that attacker key (B2), at every place Gatehouse
//! verifies a token it issued: the userinfo bearer, introspection, revocation, and the
//! `id_token_hint` of /logout.

use super::*;
use crate::on_both_backends;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// An attacker's RSA key, published (JWKS and certificate) on a loopback server that
/// counts every fetch: Gatehouse must never fetch from it.
struct Attacker {
    pair: RsaKeyPair,
    public: Jwk,
    cert_der: Vec<u8>,
    jwks_url: String,
    cert_url: String,
    fetches: Arc<AtomicUsize>,
}

impl Attacker {
    async fn start() -> Attacker {
        let mut pair = RS256.generate_key_pair(2048).unwrap();
        pair.set_key_id(Some("attacker"));
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("attacker");
        let pem = String::from_utf8(pair.to_pem_private_key()).unwrap();
        let key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["evil.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let jwks = serde_json::json!({ "keys": [serde_json::Value::Object(public.as_ref().clone())] }).to_string();
        let cert_pem = cert.pem();
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = |body: String, fetches: Arc<AtomicUsize>| {
            move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { body }
            }
        };
        let router = axum::Router::new()
            .route("/jwks.json", axum::routing::get(counted(jwks, fetches.clone())))
            .route("/cert.pem", axum::routing::get(counted(cert_pem, fetches.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Attacker {
            pair,
            public,
            cert_der: cert.der().to_vec(),
            jwks_url: format!("http://{addr}/jwks.json"),
            cert_url: format!("http://{addr}/cert.pem"),
            fetches,
        }
    }

    /// Copies of `real` (same header `typ`, same claims) signed with the attacker's key:
    /// for each embedded-key header, with our own `kid`, the attacker's, and none.
    fn forgeries(&self, real: &str) -> Vec<(String, String)> {
        use base64::Engine;
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(real.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        let typ = header["typ"].as_str().unwrap().to_string();
        let our_kid = header["kid"].as_str().unwrap().to_string();
        let claims = jwt_claims(real).as_object().unwrap().clone();
        let signer = RS256.signer_from_jwk(&self.pair.to_jwk_private_key()).unwrap();
        let mut forged = Vec::new();
        for embedded in ["jwk", "jku", "x5u", "x5c"] {
            for kid in [Some(our_kid.as_str()), Some("attacker"), None] {
                let mut h = JwsHeader::new();
                h.set_token_type(&typ);
                if let Some(kid) = kid {
                    h.set_key_id(kid);
                }
                match embedded {
                    "jwk" => h.set_jwk(self.public.clone()),
                    "jku" => h.set_jwk_set_url(&self.jwks_url),
                    "x5u" => h.set_x509_url(&self.cert_url),
                    _ => h.set_x509_certificate_chain(&vec![self.cert_der.clone()]),
                }
                let payload = JwtPayload::from_map(claims.clone()).unwrap();
                let token = josekit::jwt::encode_with_signer(&payload, &h, &signer).unwrap();
                // The forgery is valid under the attacker's key, so only the choice of key
                // can refuse it.
                let verifier = RS256.verifier_from_jwk(&self.public).unwrap();
                josekit::jwt::decode_with_verifier(&token, &verifier)
                    .expect("a valid signature under the attacker key");
                forged.push((format!("{embedded} with kid {kid:?}"), token));
            }
        }
        forged
    }
}

on_both_backends! {
    async fn b2_tokens_carrying_their_own_key_are_refused_everywhere(app) {
        let attacker = Attacker::start().await;
        let rp = add_client(&app.store, "rp", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.post_logout_redirect_uris = vec![PLRU.into()];
        }).await;
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
        let tokens: Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let (access_token, id_token) = (tokens["access_token"].as_str().unwrap(), tokens["id_token"].as_str().unwrap());
        assert_eq!(app.userinfo_status(access_token).await, 200);
        assert_eq!(introspect(&app, access_token).await["active"], true);

        for (case, forged) in attacker.forgeries(access_token) {
            let response = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(&forged).send().await.unwrap();
            assert_eq!(response.status(), 401, "userinfo, {case}");
            assert_eq!(introspect(&app, &forged).await, serde_json::json!({ "active": false }), "introspection, {case}");
            // Revoking the forgery (it names the real token's jti and grant) must not
            // touch the real token.
            let revoked = app.token_request_to("/revoke", &app.client, &[("token", &forged)]).await;
            assert!(revoked.status() == 200 || revoked.status() == 400, "revocation, {case}: {}", revoked.status());
            assert_eq!(app.userinfo_status(access_token).await, 200, "revocation, {case}: the real token still works");
        }

        // The RP's own ID token, forged, as id_token_hint: no silent logout, no redirect.
        let (url, verifier) = app.authorize_url(&rp, &[]);
        let to = location(browser.follow(&url).await.headers()).unwrap();
        let rp_code = query_param(&to, "code").expect("a code from the signed-in session");
        let rp_tokens: Value = app.redeem(&rp, &rp_code, &verifier).await.json().await.unwrap();
        let rp_id_token = rp_tokens["id_token"].as_str().unwrap();
        // With a registered return URI (the RP's token) and without one (the first app's):
        // a genuine hint would sign out at once in both cases.
        let with_return = [("post_logout_redirect_uri", PLRU), ("state", "s")];
        for (real, extra) in [(rp_id_token, &with_return[..]), (id_token, &[][..])] {
            for (case, forged) in attacker.forgeries(real) {
                let mut params = vec![("id_token_hint", forged.as_str())];
                params.extend_from_slice(extra);
                let query = serde_urlencoded::to_string(&params).unwrap();
                let response = browser.get(&format!("/logout?{query}")).await;
                assert_eq!(response.status(), 200, "logout, {case}");
                assert!(location(response.headers()).is_none(), "logout must not redirect, {case}");
                assert!(response.text().await.unwrap().contains("Sign out?"), "logout asks first, {case}");
            }
        }
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "the session survived every forged hint: {to}");
        assert_eq!(attacker.fetches.load(Ordering::SeqCst), 0, "Gatehouse fetched the attacker's jku/x5u");

        // The genuine hint does sign out and redirect, so the refusals above were the key's.
        let query = serde_urlencoded::to_string([("id_token_hint", rp_id_token), ("post_logout_redirect_uri", PLRU), ("state", "s")]).unwrap();
        let response = browser.get(&format!("/logout?{query}")).await;
        assert_eq!(location(response.headers()), Some(format!("{PLRU}?state=s")));
    }
}
