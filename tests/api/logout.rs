//! Signing out: RP-Initiated Logout 1.0 (every case of the OpenID Foundation's
//! rp-initiated-logout plan) and Back-Channel Logout 1.0 delivered to a real receiver.

use crate::helpers::*;
use crate::on_both_backends;
use axum::routing::post;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PLRU: &str = "http://127.0.0.1:9/post_logout_redirect";

/// A client that registered a post-logout redirect URI, signed in in `browser`: its tokens.
async fn signed_in(app: &TestApp, browser: &Browser, backchannel: Option<String>) -> (TestClient, Value) {
    let client = add_client(&app.store, "rp", true, 0, |c| {
        c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
        c.post_logout_redirect_uris = vec![PLRU.into()];
        c.backchannel_logout_uri = backchannel;
    })
    .await;
    let (url, verifier) = app.authorize_url(&client, &[]);
    let to = browser.sign_in(&url, "alice", PASSWORD).await;
    let code = query_param(&to, "code").unwrap();
    let tokens: Value = app.redeem(&client, &code, &verifier).await.json().await.unwrap();
    (client, tokens)
}

async fn has_session(app: &TestApp, browser: &Browser, client: &TestClient) -> bool {
    let (url, _) = app.authorize_url(client, &[("prompt", "none")]);
    let to = location(browser.get(&url).await.headers()).unwrap();
    query_param(&to, "code").is_some()
}

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    format!("{}/logout?{}", app.base, serde_urlencoded::to_string(params).unwrap())
}

/// Asserts a confirmation page: no redirect, and the session still there.
async fn assert_asks_first(app: &TestApp, browser: &Browser, client: &TestClient, url: &str) {
    let response = browser.get(url).await;
    assert_eq!(response.status(), 200, "{url}");
    assert!(location(response.headers()).is_none(), "must not redirect: {url}");
    let text = response.text().await.unwrap();
    assert!(text.contains("Sign out?"), "{url}: {text}");
    assert!(has_session(app, browser, client).await, "nothing happened yet");
}

on_both_backends! {
    async fn logout_with_a_valid_hint_redirects_with_state_and_ends_the_session(app) {
        let browser = app.browser();
        let (client, tokens) = signed_in(&app, &browser, None).await;
        let hint = tokens["id_token"].as_str().unwrap();
        let response = browser.get(&logout_url(&app, &[("id_token_hint", hint), ("post_logout_redirect_uri", PLRU), ("state", "bye")])).await;
        assert_eq!(response.status(), 302);
        assert_eq!(location(response.headers()).unwrap(), format!("{PLRU}?state=bye"));
        assert!(!has_session(&app, &browser, &client).await, "prompt=none must now say login_required");
        // The grant of that session is gone too.
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 401);
    }

    async fn logout_without_state_redirects_without_state(app) {
        let browser = app.browser();
        let (client, tokens) = signed_in(&app, &browser, None).await;
        let hint = tokens["id_token"].as_str().unwrap();
        let response = browser.get(&logout_url(&app, &[("id_token_hint", hint), ("post_logout_redirect_uri", PLRU)])).await;
        assert_eq!(location(response.headers()).unwrap(), PLRU);
        assert!(!has_session(&app, &browser, &client).await);
    }

    async fn logout_with_a_hint_and_no_return_uri_shows_signed_out(app) {
        let browser = app.browser();
        let (client, tokens) = signed_in(&app, &browser, None).await;
        let response = browser.get(&logout_url(&app, &[("id_token_hint", tokens["id_token"].as_str().unwrap())])).await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("You are signed out"));
        assert!(!has_session(&app, &browser, &client).await);
    }

    async fn unverifiable_requests_never_redirect_and_ask_first(app) {
        let browser = app.browser();
        let (client, tokens) = signed_in(&app, &browser, None).await;
        let hint = tokens["id_token"].as_str().unwrap().to_string();
        let mut parts: Vec<String> = hint.split('.').map(str::to_string).collect();
        use base64::Engine;
        parts[0] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        parts[2] = String::new();
        let alg_none = parts.join(".");
        let with_query = format!("{PLRU}?foo=bar");
        let cases: Vec<Vec<(&str, &str)>> = vec![
            vec![("id_token_hint", &hint), ("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere"), ("state", "s")],
            vec![("id_token_hint", &hint), ("post_logout_redirect_uri", &with_query), ("state", "s")],
            vec![("id_token_hint", &alg_none), ("post_logout_redirect_uri", PLRU), ("state", "s")],
            vec![("post_logout_redirect_uri", PLRU), ("state", "s")],
            vec![("client_id", "rp"), ("post_logout_redirect_uri", PLRU), ("state", "s")],
            vec![("state", "s")],
            vec![],
        ];
        for params in cases {
            assert_asks_first(&app, &browser, &client, &logout_url(&app, &params)).await;
        }
    }

    async fn confirming_on_the_page_signs_out_and_returns_only_where_registered(app) {
        let browser = app.browser();
        let (client, _) = signed_in(&app, &browser, None).await;
        let page = browser.get(&logout_url(&app, &[("client_id", "rp"), ("post_logout_redirect_uri", PLRU), ("state", "s")])).await;
        let html = page.text().await.unwrap();
        let form = [
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
            ("client_id", hidden_input(&html, "client_id").unwrap()),
            ("post_logout_redirect_uri", hidden_input(&html, "post_logout_redirect_uri").unwrap()),
            ("state", hidden_input(&html, "state").unwrap()),
        ];
        // A tampered return URI in the form is dropped, not followed.
        let mut tampered = form.clone();
        tampered[2].1 = "https://evil.example/".into();
        let response = browser.http.post(app.url("/logout/confirm")).form(&tampered).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(location(response.headers()).is_none());
        assert!(!has_session(&app, &browser, &client).await);

        let (client, _) = (client, ());
        let (url, _) = app.authorize_url(&client, &[]);
        browser.sign_in(&url, "alice", PASSWORD).await;
        let page = browser.get(&logout_url(&app, &[("client_id", "rp"), ("post_logout_redirect_uri", PLRU), ("state", "s")])).await;
        let html = page.text().await.unwrap();
        let mut form = form.clone();
        form[0].1 = hidden_input(&html, "csrf_token").unwrap();
        let response = browser.http.post(app.url("/logout/confirm")).form(&form).send().await.unwrap();
        let status = response.status();
        let to = location(response.headers());
        assert_eq!(to, Some(format!("{PLRU}?state=s")), "{status} {}", response.text().await.unwrap_or_default().chars().take(1500).collect::<String>());
        assert!(!has_session(&app, &browser, &client).await);
    }

    async fn back_channel_logout_token_reaches_the_client_and_verifies(app) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let failures_left = Arc::new(AtomicUsize::new(1));
        let receiver = {
            let failures_left = failures_left.clone();
            axum::Router::new().route("/backchannel", post(move |body: String| {
                let tx = tx.clone();
                let failures_left = failures_left.clone();
                async move {
                    // The first delivery fails: Gatehouse must retry.
                    if failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let _ = tx.send(body);
                    axum::http::StatusCode::OK
                }
            }))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver_url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await });

        let browser = app.browser();
        let (_, tokens) = signed_in(&app, &browser, Some(receiver_url)).await;
        let response = browser
            .get(&logout_url(&app, &[("id_token_hint", tokens["id_token"].as_str().unwrap())]))
            .await;
        assert_eq!(response.status(), 200, "the user's logout does not wait for the client");

        // First attempt fails; move the clock past the backoff so the retry is due.
        let mut body = None;
        for _ in 0..60 {
            if let Ok(b) = rx.try_recv() {
                body = Some(b);
                break;
            }
            if failures_left.load(Ordering::SeqCst) == 0 {
                app.clock.advance(15);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let body = body.expect("logout token delivered after a retry");
        let token = form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .expect("logout_token form field");

        // Verify it as a client would: against the JWKS, by kid, RS256.
        let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
        let (payload, header) = josekit::jwt::decode_with_verifier_selector(&token, |header| {
            let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| Some(k["kid"].as_str().unwrap()) == header.key_id()).unwrap();
            let jwk = josekit::jwk::Jwk::from_map(jwk.as_object().unwrap().clone()).unwrap();
            Ok(Some(Box::leak(Box::new(josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap()))))
        })
        .expect("logout token verifies against the JWKS");
        assert_eq!(header.token_type(), Some("logout+jwt"));
        let claims = payload.claims_set();
        let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["iss"], app.base.as_str());
        assert_eq!(claims["aud"], "rp");
        assert_eq!(claims["sub"], id_token["sub"]);
        assert_eq!(claims["sid"], id_token["sid"]);
        assert!(claims["events"].get("http://schemas.openid.net/event/backchannel-logout").is_some());
        assert!(claims.get("nonce").is_none(), "Back-Channel Logout §2.4 forbids nonce");
        assert!(claims.get("jti").is_some() && claims.get("iat").is_some());
    }
}
