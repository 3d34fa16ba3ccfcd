//! The device authorization grant (RFC 8628): a device asks for codes, polls `/token`
//! (`authorization_pending`, `slow_down`), its user approves or denies at `/device`, and
//! the device's code is redeemed once; expired, foreign and unknown codes are refused.

use crate::helpers::*;
use crate::on_both_backends;
use gatehouse::clients::DEVICE_CODE_GRANT;
use serde_json::Value;

async fn tv(app: &TestApp) -> TestClient {
    add_client(&app.store, "tv-app", false, app.clock.now(), |c| {
        c.name = "Living Room TV".into();
        c.grant_types = vec![DEVICE_CODE_GRANT.into(), "refresh_token".into()];
    })
    .await
}

async fn start(app: &TestApp, client: &TestClient, scope: &str) -> Value {
    let response = app
        .token_request_to("/device_authorization", client, &[("scope", scope)])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn poll(app: &TestApp, client: &TestClient, device_code: &str) -> (u16, Value) {
    let response = app
        .token_request(
            client,
            &[("grant_type", DEVICE_CODE_GRANT), ("device_code", device_code)],
        )
        .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The user's side: type the code at /device, then press `decision`.
async fn answer(browser: &Browser, user_code: &str, decision: &str) -> reqwest::Response {
    let page = browser.get("/device").await.text().await.unwrap();
    let csrf = hidden_input(&page, "csrf_token").expect("csrf");
    let confirm = browser
        .post_form(
            "/device",
            &[("csrf_token", &csrf), ("user_code", &user_code.to_lowercase())],
        )
        .await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("Living Room TV"), "the page names the app: {html}");
    assert!(
        html.contains(user_code),
        "and the code, to compare with the device's: {html}"
    );
    browser
        .post_form(
            "/device/decide",
            &[("csrf_token", &csrf), ("user_code", user_code), ("decision", decision)],
        )
        .await
}

on_both_backends! {
    async fn a_device_is_approved_polls_gets_tokens_once(app) {
        let client = tv(&app).await;
        let started = start(&app, &client, "openid profile offline_access").await;
        let user_code = started["user_code"].as_str().unwrap();
        let device_code = started["device_code"].as_str().unwrap();
        assert_eq!(started["verification_uri"], app.url("/device"));
        assert_eq!(started["verification_uri_complete"], format!("{}?user_code={user_code}", app.url("/device")));
        assert_eq!(started["interval"], 5);
        assert_eq!(started["expires_in"], 600);
        assert_eq!(user_code.len(), 9);

        let (status, body) = poll(&app, &client, device_code).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("authorization_pending")));
        // Again at once: too fast, and the interval grows.
        let (status, body) = poll(&app, &client, device_code).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("slow_down")));
        assert!(body["error_description"].as_str().unwrap().contains("10 seconds"), "{body}");

        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let done = answer(&browser, user_code, "allow").await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("Device connected"));

        app.clock.advance(10);
        let (status, tokens) = poll(&app, &client, device_code).await;
        assert_eq!(status, 200, "{tokens}");
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["sub"], app.user.id.as_str());
        assert_eq!(claims["aud"], "tv-app");
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
        assert!(tokens["refresh_token"].is_string(), "offline_access gives a refresh token");
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 200);

        // Single use.
        app.clock.advance(10);
        let (status, body) = poll(&app, &client, device_code).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        // And the code cannot be approved again.
        let page = browser.get("/device").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf_token").unwrap();
        let again = browser.post_form("/device", &[("csrf_token", &csrf), ("user_code", user_code)]).await;
        assert_eq!(again.status(), 400);
        assert!(again.text().await.unwrap().contains("not right, or it has expired"));
    }

    async fn a_denied_expired_foreign_or_unknown_code_is_refused(app) {
        let client = tv(&app).await;
        let browser = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let denied = start(&app, &client, "openid").await;
        assert_eq!(answer(&browser, denied["user_code"].as_str().unwrap(), "deny").await.status(), 200);
        let (status, body) = poll(&app, &client, denied["device_code"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("access_denied")));

        // Another client cannot redeem this one's code.
        let other = add_client(&app.store, "other-tv", false, app.clock.now(), |c| {
            c.grant_types = vec![DEVICE_CODE_GRANT.into()];
        })
        .await;
        let mine = start(&app, &client, "openid").await;
        let (status, body) = poll(&app, &other, mine["device_code"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        let (status, body) = poll(&app, &client, "no-such-code").await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

        // Ten minutes later the code is gone for both sides.
        app.clock.advance(601);
        let (status, body) = poll(&app, &client, mine["device_code"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("expired_token")));
        let page = browser.get("/device").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf_token").unwrap();
        let late = browser
            .post_form("/device", &[("csrf_token", &csrf), ("user_code", mine["user_code"].as_str().unwrap())])
            .await;
        assert_eq!(late.status(), 400);
    }

    async fn only_clients_with_the_grant_start_one_and_discovery_says_where(app) {
        let response = app.token_request_to("/device_authorization", &app.client, &[("scope", "openid")]).await;
        let (status, error) = oauth_error(response).await;
        assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
        let response = app.token_request(&app.client, &[("grant_type", DEVICE_CODE_GRANT), ("device_code", "x")]).await;
        let (status, error) = oauth_error(response).await;
        assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
        let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
        assert_eq!(discovery["device_authorization_endpoint"], app.url("/device_authorization"));
        assert!(discovery["grant_types_supported"].as_array().unwrap().iter().any(|g| g == DEVICE_CODE_GRANT));
    }

    async fn the_device_page_sends_a_visitor_to_sign_in_and_back_with_the_code(app) {
        let client = tv(&app).await;
        let started = start(&app, &client, "openid").await;
        let complete = started["verification_uri_complete"].as_str().unwrap();
        let browser = app.browser();
        let to_login = browser.get(complete).await;
        let login = location(to_login.headers()).expect("to the login page");
        assert!(login.starts_with("/login?return_to=%2Fdevice%3Fuser_code%3D"), "{login}");
        let html = browser.get(&login).await.text().await.unwrap();
        let signed_in = browser.submit_login(&html, &app.user.username, PASSWORD).await;
        let back = location(signed_in.headers()).unwrap();
        assert_eq!(back, format!("/device?user_code={}", started["user_code"].as_str().unwrap()));
        let page = browser.get(&back).await.text().await.unwrap();
        assert!(page.contains(started["user_code"].as_str().unwrap()), "the code is filled in: {page}");
    }
}
