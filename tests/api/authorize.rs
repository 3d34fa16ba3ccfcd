//! /authorize: which errors are shown on our page and which go back to the client
//! (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6), prompt and max_age (OIDC Core §3.1.2.1).

use crate::helpers::*;
use crate::on_both_backends;

/// Asserts the response is our error page, not a redirect anywhere.
async fn assert_error_page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    assert!(location(response.headers()).is_none(), "must not redirect");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    response.text().await.unwrap()
}

/// Asserts a redirect to the client's redirect URI carrying `error`, state and iss.
fn assert_error_redirect(app: &TestApp, client: &TestClient, response: &reqwest::Response, error: &str) {
    assert_eq!(response.status(), 302);
    let to = location(response.headers()).expect("redirect");
    assert!(to.starts_with(&client.redirect_uri), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some(error), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"));
    assert_eq!(query_param(&to, "iss").as_deref(), Some(app.base.as_str()));
    assert!(query_param(&to, "code").is_none());
}

on_both_backends! {
    async fn unknown_client_shows_an_error_page(app) {
        let (url, _) = app.authorize_url(&app.client, &[("client_id", "no-such-client")]);
        let html = assert_error_page(app.browser().get(&url).await).await;
        assert!(html.contains("not registered"));
    }

    async fn unregistered_or_altered_redirect_uri_never_redirects(app) {
        for uri in [
            "http://127.0.0.1:9/other",
            "HTTP://127.0.0.1:9/callback",
            "http://127.0.0.1:9/Callback",
            "http://127.0.0.1:9/callback/",
            "http://127.0.0.1:9/callback?x=1",
            "https://evil.example/callback",
        ] {
            let (url, _) = app.authorize_url(&app.client, &[("redirect_uri", uri)]);
            assert_error_page(app.browser().get(&url).await).await;
        }
        let (url, _) = app.authorize_url(&app.client, &[("redirect_uri", "")]);
        assert_error_page(app.browser().get(&url).await).await;
    }

    async fn repeated_parameters_show_an_error_page(app) {
        let (url, _) = app.authorize_url(&app.client, &[]);
        let url = format!("{url}&client_id=client2");
        assert_error_page(app.browser().get(&url).await).await;
    }

    async fn missing_pkce_on_public_client_redirects_invalid_request(app) {
        let (url, _) = app.authorize_url(&app.public_client, &[("code_challenge", ""), ("code_challenge_method", "")]);
        let response = app.browser().get(&url).await;
        assert_error_redirect(&app, &app.public_client, &response, "invalid_request");
    }

    async fn plain_pkce_is_refused(app) {
        for client in [&app.public_client, &app.client] {
            let (url, _) = app.authorize_url(client, &[("code_challenge_method", "plain")]);
            assert_error_redirect(&app, client, &app.browser().get(&url).await, "invalid_request");
            // An omitted method means plain (RFC 7636 §4.3).
            let (url, _) = app.authorize_url(client, &[("code_challenge_method", "")]);
            assert_error_redirect(&app, client, &app.browser().get(&url).await, "invalid_request");
        }
    }

    async fn protocol_errors_go_back_to_the_client(app) {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("response_type", "token")], "unsupported_response_type"),
            (&[("response_type", "id_token token")], "unsupported_response_type"),
            (&[("response_type", "")], "invalid_request"),
            (&[("scope", "email profile")], "invalid_scope"),
            // Unsigned, and from a client with no keys: refused, back at the URL's redirect URI.
            (&[("request", "eyJhbGciOiJub25lIn0.e30.")], "invalid_request_object"),
            // Not one the client registered: never fetched (OIDC Core §6.2).
            (&[("request_uri", "https://rp.example/req")], "invalid_request_uri"),
            (&[("prompt", "none login")], "invalid_request"),
            (&[("prompt", "bogus")], "invalid_request"),
            (&[("max_age", "-1")], "invalid_request"),
            (&[("max_age", "soon")], "invalid_request"),
            (&[("response_mode", "fragment")], "invalid_request"),
            (&[("code_challenge", "too-short")], "invalid_request"),
        ];
        for (extra, error) in cases {
            let (url, _) = app.authorize_url(&app.client, extra);
            assert_error_redirect(&app, &app.client, &app.browser().get(&url).await, error);
        }
    }

    async fn post_authorize_works_like_get(app) {
        let (url, _) = app.authorize_url(&app.client, &[]);
        let query = url.split_once('?').unwrap().1.to_string();
        let browser = app.browser();
        let response = browser
            .http
            .post(app.url("/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert!(location(response.headers()).unwrap().starts_with("/login?request_id="));
    }

    async fn prompt_none_without_a_session_is_login_required(app) {
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let response = app.browser().get(&url).await;
        assert_error_redirect(&app, &app.client, &response, "login_required");
    }

    async fn prompt_none_with_a_session_returns_a_code_without_a_page(app) {
        let browser = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        browser.sign_in(&url, &app.user.username, PASSWORD).await;
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let response = browser.get(&url).await;
        assert_eq!(response.status(), 302);
        let to = location(response.headers()).unwrap();
        assert!(to.starts_with(&app.client.redirect_uri) && query_param(&to, "code").is_some(), "{to}");
    }

    async fn prompt_login_asks_again_and_refreshes_auth_time(app) {
        let browser = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        browser.sign_in(&url, &app.user.username, PASSWORD).await;
        app.clock.advance(120);
        let (url, verifier) = app.authorize_url(&app.client, &[("prompt", "login")]);
        let page = browser.follow(&url).await;
        let html = page.text().await.unwrap();
        assert!(html.contains("name=\"password\""), "prompt=login must show the login form");
        let response = browser.submit_login(&html, &app.user.username, PASSWORD).await;
        let done = browser.follow(&location(response.headers()).unwrap()).await;
        let code = query_param(&location(done.headers()).unwrap(), "code").unwrap();
        let tokens: serde_json::Value = app.redeem(&app.client, &code, &verifier).await.json().await.unwrap();
        let id = crate::sign_in::decode_payload(tokens["id_token"].as_str().unwrap());
        let auth_time = id["auth_time"].as_i64().unwrap();
        assert!(auth_time >= app.clock.now() - 5, "auth_time {auth_time} is from the first login");
    }

    async fn only_the_sign_in_made_for_a_request_satisfies_prompt_login(app) {
        // Signed in, then (within the same second, with the clock standing still) an app asks
        // for prompt=login: resuming the parked request without signing in must not pass,
        // however the clock reads.
        let browser = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        browser.sign_in(&url, &app.user.username, PASSWORD).await;
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "login")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        let id = to.strip_prefix("/login?request_id=").unwrap_or_else(|| panic!("{to}")).to_string();
        let resumed = location(browser.get(&format!("/authorize/resume/{id}")).await.headers()).unwrap();
        assert!(resumed.starts_with("/login?request_id="), "resumed without a sign-in: {resumed}");
    }

    async fn max_age_forces_a_new_login_when_the_session_is_older(app) {
        let browser = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        browser.sign_in(&url, &app.user.username, PASSWORD).await;
        // Within max_age: straight back with a code.
        let (url, _) = app.authorize_url(&app.client, &[("max_age", "300")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "{to}");
        // Older than max_age: the login page, or login_required with prompt=none.
        app.clock.advance(301);
        let (url, _) = app.authorize_url(&app.client, &[("max_age", "300")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(to.starts_with("/login?request_id="), "{to}");
        let (url, _) = app.authorize_url(&app.client, &[("max_age", "300"), ("prompt", "none")]);
        assert_error_redirect(&app, &app.client, &browser.get(&url).await, "login_required");
    }

    async fn login_hint_prefills_the_identifier(app) {
        let (url, _) = app.authorize_url(&app.client, &[("login_hint", "alice@example.com")]);
        let html = app.browser().follow(&url).await.text().await.unwrap();
        assert!(html.contains("value=\"alice@example.com\""));
        assert!(html.contains("Test App"), "the login page names the app");
    }

    async fn unknown_parameters_and_scopes_are_ignored(app) {
        let (url, _) = app.authorize_url(&app.client, &[("scope", "openid email frobnicate"), ("foo", "bar")]);
        let location = app.browser().sign_in(&url, &app.user.username, PASSWORD).await;
        assert!(query_param(&location, "code").is_some());
    }
}

on_both_backends! {
    async fn clients_without_the_code_grant_are_unauthorized_client(app) {
        let hybrid = add_client(&app.store, "machine", true, 0, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.grant_types = vec!["client_credentials".into()];
            c.audiences = vec!["https://api.example.com".into()];
            c.access_token_ttl_secs = Some(60);
        })
        .await;
        let (url, _) = app.authorize_url(&hybrid, &[]);
        let response = app.browser().get(&url).await;
        assert_eq!(response.status(), 302);
        let to = location(response.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("unauthorized_client"));
        // Its own lifetime applies to what it can get.
        let body: serde_json::Value = app
            .token_request(&hybrid, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["expires_in"], 60);
    }
}
