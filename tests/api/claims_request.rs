//! The `claims` parameter (OIDC Core §5.5): claims asked for by name are released where
//! they were asked for (UserInfo or the ID token), only to clients that may have the scope
//! that covers them, and only with consent for third-party clients.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::Value;

on_both_backends! {
    async fn claims_asked_for_by_name_are_released_where_asked(app) {
        let claims = r#"{"userinfo":{"name":{"essential":true}},"id_token":{"email":null,"picture":null}}"#;
        let tokens = app.tokens_with(&app.client, &[("scope", "openid"), ("claims", claims)]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["name"], "Alice Liddell", "{info}");
        assert!(info.get("email").is_none(), "email was asked for in the ID token only: {info}");
        assert!(info.get("preferred_username").is_none(), "the profile scope was not granted: {info}");
        let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id_token["email"], app.user.email.as_str());
        assert!(id_token.get("name").is_none(), "name was asked for in UserInfo only");
        assert!(id_token.get("picture").is_none(), "we hold no picture");

        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert_eq!(discovery["claims_parameter_supported"], true);
    }

    async fn refreshed_tokens_keep_the_claims_asked_for(app) {
        let claims = r#"{"userinfo":{"email":null},"id_token":{"preferred_username":null}}"#;
        let tokens = app
            .tokens_with(&app.client, &[("scope", "openid offline_access"), ("claims", claims)])
            .await;
        let refresh = tokens["refresh_token"].as_str().expect("offline_access gives a refresh token");
        let refreshed: Value = app.refresh(&app.client, refresh, &[]).await.json().await.unwrap();
        let id_token = jwt_claims(refreshed["id_token"].as_str().unwrap());
        assert_eq!(id_token["preferred_username"], app.user.username.as_str());
        let info = app.userinfo(refreshed["access_token"].as_str().unwrap()).await;
        assert_eq!(info["email"], app.user.email.as_str(), "{info}");

        // Narrowed at refresh (RFC 6749 §6): the narrower token gets no claims by name.
        let next = refreshed["refresh_token"].as_str().unwrap();
        let narrowed: Value = app.refresh(&app.client, next, &[("scope", "openid")]).await.json().await.unwrap();
        assert!(jwt_claims(narrowed["id_token"].as_str().unwrap()).get("preferred_username").is_none());
        let info = app.userinfo(narrowed["access_token"].as_str().unwrap()).await;
        assert!(info.get("email").is_none(), "{info}");
    }

    async fn a_client_gets_no_claim_its_scopes_do_not_allow(app) {
        let narrow = add_client(&app.store, "narrow", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.allowed_scopes = Some(vec!["openid".into(), "email".into()]);
        })
        .await;
        let claims = r#"{"userinfo":{"name":null,"email":null},"id_token":{"given_name":null}}"#;
        let tokens = app.tokens_with(&narrow, &[("scope", "openid"), ("claims", claims)]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert!(info.get("name").is_none(), "profile is not allowed to this client: {info}");
        assert_eq!(info["email"], app.user.email.as_str());
        assert!(jwt_claims(tokens["id_token"].as_str().unwrap()).get("given_name").is_none());
    }

    async fn a_third_party_client_needs_consent_for_claims_asked_for_by_name(app) {
        let partner = add_client(&app.store, "partner", true, 0, |c| {
            c.name = "Partner App".into();
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.first_party = false;
        })
        .await;
        let browser = app.browser();
        let claims = r#"{"userinfo":{"email":null}}"#;
        let (url, _) = app.authorize_url(&partner, &[("scope", "openid"), ("claims", claims)]);
        let response = browser.follow(&url).await;
        let html = response.text().await.unwrap();
        let response = browser.submit_login(&html, &app.user.username, PASSWORD).await;
        let consent = browser.follow(&location(response.headers()).unwrap()).await.text().await.unwrap();
        assert!(consent.contains("See your email address"), "the consent page names what the claim reveals: {consent}");
    }

    async fn malformed_claims_members_are_invalid_request(app) {
        let (url, _) = app.authorize_url(&app.client, &[("claims", r#"{"userinfo":["name"]}"#)]);
        let to = location(app.browser().get(&url).await.headers()).expect("an error redirect");
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
    }
}
