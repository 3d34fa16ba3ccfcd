//! What browser-based and certification-minded clients rely on: form_post responses,
//! the optional authorization parameters, id_token_hint, and CORS.

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends! {
    async fn form_post_delivers_the_code_in_an_auto_submitting_form(app) {
        let (url, verifier) = app.authorize_url(&app.client, &[("response_mode", "form_post")]);
        let browser = app.browser();
        let page = browser.follow(&url).await.text().await.unwrap();
        let response = browser.submit_login(&page, "alice", PASSWORD).await;
        let response = browser.follow(&location(response.headers()).unwrap()).await;
        assert_eq!(response.status(), 200);
        assert!(location(response.headers()).is_none(), "no code in any URL");
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        let html = response.text().await.unwrap();
        assert!(html.contains("<form method=\"post\" action=\"http:&#x2f;&#x2f;127.0.0.1:9&#x2f;callback\""), "{html}");
        assert!(html.contains("<button type=\"submit\""), "works without JavaScript");
        assert!(html.contains("src=\"/assets/form_post.js\""));
        assert_eq!(hidden_input(&html, "state").as_deref(), Some("st4te"));
        assert_eq!(hidden_input(&html, "iss").as_deref(), Some(app.base.as_str()));
        let code = hidden_input(&html, "code").unwrap();
        assert_eq!(app.redeem(&app.client, &code, &verifier).await.status(), 200);

        // Errors travel the same way.
        let (url, _) = app.authorize_url(&app.client, &[("response_mode", "form_post"), ("prompt", "none")]);
        let html = app.browser().get(&url).await.text().await.unwrap();
        assert_eq!(hidden_input(&html, "error").as_deref(), Some("login_required"));
        let script = reqwest::get(app.url("/assets/form_post.js")).await.unwrap();
        assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    }

    async fn optional_parameters_are_accepted(app) {
        let (url, _) = app.authorize_url(&app.client, &[
            ("display", "popup"), ("ui_locales", "se"), ("claims_locales", "se"), ("acr_values", "1 2"),
            ("claims", r#"{"userinfo":{"name":{"essential":true}}}"#), ("extra", "foobar"),
        ]);
        let to = app.browser().sign_in(&url, "alice", PASSWORD).await;
        assert!(query_param(&to, "code").is_some(), "{to}");
        let (url, _) = app.authorize_url(&app.client, &[("claims", "not json")]);
        let to = location(app.browser().get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"));
    }

    async fn id_token_hint_with_prompt_none_returns_the_same_user(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let code = query_param(&browser.sign_in(&url, "alice", PASSWORD).await, "code").unwrap();
        let first: serde_json::Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let hint = first["id_token"].as_str().unwrap();
        let (url, verifier) = app.authorize_url(&app.client, &[("prompt", "none"), ("id_token_hint", hint)]);
        let code = query_param(&location(browser.get(&url).await.headers()).unwrap(), "code").expect("silent success");
        let second: serde_json::Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let (a, b) = (jwt_claims(hint), jwt_claims(second["id_token"].as_str().unwrap()));
        assert_eq!(a["sub"], b["sub"]);
        assert_eq!(a["auth_time"], b["auth_time"]);

        // A hint naming someone else cannot be satisfied silently.
        let bob = create_user(&app.store, "bob", "bob@example.com", 0).await;
        let other = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        other.sign_in(&url, &bob.username, PASSWORD).await;
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none"), ("id_token_hint", hint)]);
        let to = location(other.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
        // A forged hint is refused.
        let (url, _) = app.authorize_url(&app.client, &[("id_token_hint", "e30.e30.")]);
        let to = location(other.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"));
    }

    async fn browser_apps_get_cors_from_their_own_origin_only(app) {
        let http = reqwest::Client::new();
        let preflight = http
            .request(reqwest::Method::OPTIONS, app.url("/token"))
            .header("origin", "http://localhost:9")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204);
        assert_eq!(preflight.headers()["access-control-allow-origin"], "http://localhost:9");
        assert!(preflight.headers().get("access-control-allow-credentials").is_none());

        let spa = app.tokens_with(&app.public_client, &[]).await;
        let userinfo = http
            .get(app.url("/userinfo"))
            .header("origin", "http://localhost:9")
            .bearer_auth(spa["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 200);
        assert_eq!(userinfo.headers()["access-control-allow-origin"], "http://localhost:9");

        let evil = http.post(app.url("/token")).header("origin", "https://evil.example").form(&[("grant_type", "x")]).send().await.unwrap();
        assert!(evil.headers().get("access-control-allow-origin").is_none());
        let page = http.get(app.url("/login")).header("origin", "http://localhost:9").send().await.unwrap();
        assert!(page.headers().get("access-control-allow-origin").is_none(), "pages never answer CORS");
    }
}
