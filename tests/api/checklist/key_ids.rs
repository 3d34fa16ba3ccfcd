//! Checklist row B2, the `kid` header as an injection point: tokens signed with the
//! deployment's own key (opened from the database) whose `kid` is SQL, a path, a
//! NUL byte or very long. Only the key lookup can refuse them; it must, at every place a
//! token is verified, and the server must keep working afterwards.

use super::*;
use crate::on_both_backends;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use serde_json::Value;

/// The deployment's signing key: its kid and PEM.
async fn our_key(app: &TestApp) -> (String, Vec<u8>) {
    let stored = app.state.keys.stored().await.unwrap();
    assert_eq!(stored.len(), 1, "one signing key");
    let kid = stored[0].kid.clone();
    let pem = app.state.keys.private_pem(&kid).await.unwrap();
    (kid, pem)
}

/// Copies of `real` (same `typ` and claims), RS256-signed with our key, under hostile kids.
async fn hostile_kids(app: &TestApp, real: &str) -> Vec<(String, String)> {
    use base64::Engine;
    let (kid, pem) = our_key(app).await;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(real.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str());
    let typ = header["typ"].as_str().unwrap().to_string();
    let claims = jwt_claims(real).as_object().unwrap().clone();
    let signer = RS256.signer_from_pem(&pem).unwrap();
    let kids = [
        "' OR 1=1 --".to_string(),
        "\"; DROP TABLE keys; --".to_string(),
        "'; DROP TABLE users; --".to_string(),
        format!("{kid}' OR '1'='1"),
        format!("{kid}\" OR \"1\"=\"1"),
        format!("{kid}; --"),
        format!("{kid}\u{0}"),
        format!("../keys/{kid}"),
        format!("{kid}.pem"),
        "../../../../etc/passwd\u{0}".to_string(),
        "*".to_string(),
        "%".to_string(),
        "k".repeat(2000),
    ];
    kids.into_iter()
        .map(|hostile| {
            let mut h = JwsHeader::new();
            h.set_token_type(&typ);
            h.set_key_id(&hostile);
            let token =
                josekit::jwt::encode_with_signer(&JwtPayload::from_map(claims.clone()).unwrap(), &h, &signer).unwrap();
            (format!("kid {:?}", hostile.chars().take(60).collect::<String>()), token)
        })
        .collect()
}

on_both_backends! {
    async fn b2_sql_like_or_path_kids_are_refused_and_nothing_breaks(app) {
        let (_rp, browser, tokens) = rp_signed_in(&app).await;
        let (access_token, id_token) = (tokens["access_token"].as_str().unwrap(), tokens["id_token"].as_str().unwrap());
        let keys_before = rows_of(&app.store, "signing_keys").await;
        let users_before = rows_of(&app.store, "users").await;
        let clients_before = rows_of(&app.store, "clients").await;

        for (case, forged) in hostile_kids(&app, access_token).await {
            let response = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(&forged).send().await.unwrap();
            assert_eq!(response.status(), 401, "userinfo, {case}");
            assert_eq!(introspect(&app, &forged).await, serde_json::json!({ "active": false }), "introspection, {case}");
            let revoked = app.token_request_to("/revoke", &app.client, &[("token", &forged)]).await;
            assert!(revoked.status() == 200 || revoked.status() == 400, "revocation, {case}: {}", revoked.status());
            assert_eq!(app.userinfo_status(access_token).await, 200, "{case}: the real token still works");
        }
        for (case, forged) in hostile_kids(&app, id_token).await {
            let query = serde_urlencoded::to_string([
                ("id_token_hint", forged.as_str()), ("post_logout_redirect_uri", PLRU), ("state", "s"),
            ]).unwrap();
            let response = browser.get(&format!("/logout?{query}")).await;
            assert_eq!(response.status(), 200, "logout, {case}");
            assert!(location(response.headers()).is_none(), "logout must not redirect, {case}");
            assert!(response.text().await.unwrap().contains("Sign out?"), "logout asks first, {case}");
        }

        // Nothing broke: the server answers, publishes the same key, keeps its data, and
        // the genuine tokens still work.
        let health = reqwest::get(app.url("/healthz")).await.unwrap();
        assert_eq!(health.status(), 200);
        let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
        assert_eq!(jwks["keys"][0]["kid"], our_key(&app).await.0.as_str());
        assert_eq!(rows_of(&app.store, "signing_keys").await, keys_before, "the stored keys are untouched");
        assert_eq!(rows_of(&app.store, "users").await, users_before);
        assert_eq!(rows_of(&app.store, "clients").await, clients_before);
        assert_eq!(app.userinfo_status(access_token).await, 200);
        assert_eq!(login_status(&app, "alice", PASSWORD).await, 303);
        let query = serde_urlencoded::to_string([("id_token_hint", id_token), ("post_logout_redirect_uri", PLRU), ("state", "s")]).unwrap();
        let response = browser.get(&format!("/logout?{query}")).await;
        assert_eq!(location(response.headers()), Some(format!("{PLRU}?state=s")), "the genuine hint still signs out");
    }
}
