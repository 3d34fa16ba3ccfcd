//! Authentication context class (OIDC Core §2, §3.1.2.1): "1" when the user signed in
//! during the authorization, "0" when a session carried it; `acr_values=1` asks for a
//! fresh sign-in (step-up, as Keycloak does).

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

/// Redeems the code at the end of `location` (a redirect to the app).
async fn id_token_of(app: &TestApp, location: &str, verifier: &str) -> (Value, Value) {
    let code = query_param(location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let tokens: Value = app.redeem(&app.client, &code, verifier).await.json().await.unwrap();
    (jwt_claims(tokens["id_token"].as_str().unwrap()), tokens)
}

on_both_backends! {
    async fn a_fresh_sign_in_is_acr_1_and_a_reused_session_acr_0(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
        let to = browser.sign_in(&url, &app.user.username, PASSWORD).await;
        let (first, tokens) = id_token_of(&app, &to, &verifier).await;
        assert_eq!(first["acr"], "1", "{first}");
        assert_eq!(crate::sign_in::decode_payload(tokens["access_token"].as_str().unwrap())["acr"], "1");

        let (url, verifier) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        let (second, _) = id_token_of(&app, &to, &verifier).await;
        assert_eq!(second["acr"], "0", "single sign-on reused the session: {second}");

        // A refreshed ID token speaks of the same sign-in.
        let refreshed: Value = app
            .refresh(&app.client, tokens["refresh_token"].as_str().unwrap(), &[])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(jwt_claims(refreshed["id_token"].as_str().unwrap())["acr"], "1");

        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert_eq!(discovery["acr_values_supported"], serde_json::json!(["0", "1", "mfa", "phr"]));
    }

    async fn acr_values_1_asks_a_signed_in_user_to_sign_in_again(app) {
        let browser = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        browser.sign_in(&url, &app.user.username, PASSWORD).await;

        // "0 1" accepts the session as it is.
        let (url, verifier) = app.authorize_url(&app.client, &[("acr_values", "0 1")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(id_token_of(&app, &to, &verifier).await.0["acr"], "0");

        // "1" alone wants the password again, and then says so; silently it cannot be had.
        let (url, _) = app.authorize_url(&app.client, &[("acr_values", "1"), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");
        let (url, verifier) = app.authorize_url(&app.client, &[("acr_values", "1")]);
        let to = browser.sign_in(&url, &app.user.username, PASSWORD).await;
        assert_eq!(id_token_of(&app, &to, &verifier).await.0["acr"], "1");

        // The same demand as an essential acr claim (OIDC Core §5.5.1.1).
        let essential = r#"{"id_token":{"acr":{"essential":true,"values":["1"]}}}"#;
        let (url, _) = app.authorize_url(&app.client, &[("claims", essential), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");
        // And a sub asked for by value that is someone else's asks for that user.
        let other = r#"{"id_token":{"sub":{"value":"someone-else"}}}"#;
        let (url, _) = app.authorize_url(&app.client, &[("claims", other), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "{to}");
    }
}
