//! Address and phone (OIDC Core §5.1, §5.4): entered on the account page, released under
//! the `address` and `phone` scopes (or by name with the `claims` parameter), left out
//! when the user gave none, and never said to be verified.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

async fn save_contact(app: &TestApp, browser: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let html = browser.get("/account").await.text().await.unwrap();
    let mut form: Vec<(&str, String)> = vec![("csrf_token", hidden_input(&html, "csrf_token").unwrap())];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    browser
        .http
        .post(app.url("/account/contact"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

const ADDRESS: &[(&str, &str)] = &[
    ("phone_number", "+1 (425) 555-1212"),
    ("street_address", "1 Main St\r\nApt 2"),
    ("locality", "Springfield"),
    ("region", "IL"),
    ("postal_code", "62704"),
    ("country", "USA"),
];

on_both_backends! {
    async fn address_and_phone_saved_on_the_account_page_reach_apps_with_those_scopes(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let saved = save_contact(&app, &browser, ADDRESS).await;
        assert_eq!(saved.status(), 200);
        let html = saved.text().await.unwrap();
        assert!(html.contains("Address and phone saved."), "{html}");
        assert!(html.contains("value=\"Springfield\""), "the page shows what was saved");

        let tokens = app.tokens_with(&app.client, &[("scope", "openid address phone")]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(
            info["address"],
            json!({
                "street_address": "1 Main St\nApt 2",
                "locality": "Springfield",
                "region": "IL",
                "postal_code": "62704",
                "country": "USA",
                "formatted": "1 Main St\nApt 2\nSpringfield IL 62704\nUSA",
            }),
            "{info}"
        );
        assert_eq!(info["phone_number"], "+1 (425) 555-1212");
        assert_eq!(info["phone_number_verified"], false, "Gatehouse never proves a phone number");
        assert!(info.get("email").is_none(), "the email scope was not asked for: {info}");

        // Without the scopes, nothing of it.
        let tokens = app.tokens_with(&app.client, &[("scope", "openid profile email")]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        for claim in ["address", "phone_number", "phone_number_verified"] {
            assert!(info.get(claim).is_none(), "{claim} released without its scope: {info}");
        }

        // By name, in the ID token (OIDC Core §5.5).
        let claims = r#"{"id_token":{"phone_number":null,"address":null}}"#;
        let tokens = app.tokens_with(&app.client, &[("scope", "openid"), ("claims", claims)]).await;
        let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id_token["phone_number"], "+1 (425) 555-1212");
        assert_eq!(id_token["address"]["locality"], "Springfield");
    }

    async fn an_account_with_no_address_or_phone_releases_no_such_claims(app) {
        let tokens = app.tokens_with(&app.client, &[("scope", "openid address phone")]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["sub"], app.user.id.as_str());
        for claim in ["address", "phone_number", "phone_number_verified"] {
            assert!(info.get(claim).is_none(), "{claim} released with no value: {info}");
        }
    }

    async fn a_bad_phone_number_is_refused_with_a_hint_and_changes_nothing(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        assert_eq!(save_contact(&app, &browser, ADDRESS).await.status(), 200);
        let refused = save_contact(&app, &browser, &[("phone_number", "555 1212"), ("locality", "Shelbyville")]).await;
        assert_eq!(refused.status(), 400);
        assert!(refused.text().await.unwrap().contains("with its country code"));
        let long = "x".repeat(101);
        let refused = save_contact(&app, &browser, &[("locality", long.as_str())]).await;
        assert_eq!(refused.status(), 400);

        let tokens = app.tokens_with(&app.client, &[("scope", "openid address phone")]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["address"]["locality"], "Springfield", "the refused forms saved nothing: {info}");
        assert_eq!(info["phone_number"], "+1 (425) 555-1212");

        // Clearing every field removes the claims.
        let cleared = save_contact(&app, &browser, &[]).await;
        assert_eq!(cleared.status(), 200);
        let tokens = app.tokens_with(&app.client, &[("scope", "openid address phone")]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert!(info.get("address").is_none() && info.get("phone_number").is_none(), "{info}");
    }

    async fn address_parts_are_escaped_on_the_page_and_the_form_needs_the_csrf_token(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        let saved = save_contact(&app, &browser, &[("street_address", "<script>alert(1)</script>"), ("country", "\"><img src=x>")]).await;
        assert_eq!(saved.status(), 200);
        let html = saved.text().await.unwrap();
        assert!(!html.contains("<script>alert(1)") && !html.contains("<img src=x"), "{html}");

        let forged = browser
            .http
            .post(app.url("/account/contact"))
            .form(&[("csrf_token", "forged"), ("locality", "Elsewhere")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        let tokens = app.tokens_with(&app.client, &[("scope", "openid address")]).await;
        let info = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["address"]["street_address"], "<script>alert(1)</script>", "stored as typed, escaped when shown");
    }

    async fn discovery_lists_the_address_and_phone_scopes_and_claims(app) {
        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        for scope in ["address", "phone"] {
            assert!(discovery["scopes_supported"].as_array().unwrap().iter().any(|s| s == scope), "{scope}");
        }
        for claim in ["address", "phone_number", "phone_number_verified"] {
            assert!(discovery["claims_supported"].as_array().unwrap().iter().any(|s| s == claim), "{claim}");
        }
    }
}
