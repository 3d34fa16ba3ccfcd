//! The hosted login and logout pages: sessions, cookies, CSRF, enumeration resistance,
//! escaping and security headers.

use crate::helpers::*;
use crate::on_both_backends;

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string()
}

async fn login_page(browser: &Browser) -> String {
    browser.get("/login").await.text().await.unwrap()
}

on_both_backends! {
    async fn unknown_user_and_wrong_password_look_the_same(app) {
        let browser = app.browser();
        let html = login_page(&browser).await;
        let wrong_password = browser.submit_login(&html, "alice", "not the password").await;
        let unknown_user = browser.submit_login(&html, "alicf", "not the password").await;
        assert_eq!(wrong_password.status(), 401);
        assert_eq!(unknown_user.status(), 401);
        let a = wrong_password.text().await.unwrap().replace("alice", "IDENT");
        let b = unknown_user.text().await.unwrap().replace("alicf", "IDENT");
        assert_eq!(a, b);
        assert!(a.contains("Incorrect username or email, or password."));
        assert!(!a.contains("not the password"), "a typed password is never echoed");
    }

    async fn login_works_with_username_or_email_in_any_case(app) {
        for identifier in ["alice", "ALICE", "alice@example.com", "Alice@Example.COM"] {
            let browser = app.browser();
            let html = login_page(&browser).await;
            let response = browser.submit_login(&html, identifier, PASSWORD).await;
            assert_eq!(response.status(), 303, "{identifier}");
        }
    }

    async fn login_without_csrf_token_or_from_another_site_is_refused(app) {
        let browser = app.browser();
        let html = login_page(&browser).await;
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let login = |form: Vec<(&'static str, String)>, origin: Option<String>| {
            let mut request = browser.http.post(app.url("/login")).form(&form);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send()
        };
        let base = vec![("identifier", "alice".to_string()), ("password", PASSWORD.to_string())];
        let mut wrong = base.clone();
        wrong.push(("csrf_token", "forged".into()));
        let mut right = base.clone();
        right.push(("csrf_token", csrf.clone()));
        assert_eq!(login(base.clone(), None).await.unwrap().status(), 403);
        assert_eq!(login(wrong, None).await.unwrap().status(), 403);
        assert_eq!(login(right.clone(), Some("https://evil.example".to_string())).await.unwrap().status(), 403);
        let cross_site = browser
            .http
            .post(app.url("/login"))
            .header("sec-fetch-site", "cross-site")
            .form(&right)
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), 403);
        assert_eq!(login(right, Some(app.base.clone())).await.unwrap().status(), 303);
    }

    async fn every_login_starts_a_new_session_with_a_hardened_cookie(app) {
        let browser = app.browser();
        let html = login_page(&browser).await;
        let first = browser.submit_login(&html, "alice", PASSWORD).await;
        let cookie = set_cookies(&first).into_iter().find(|c| c.starts_with("gatehouse_session=")).unwrap();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain-http issuer: no Secure attribute");
        let first_value = cookie_value(&cookie);
        use base64::Engine;
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&first_value).unwrap().len(), 32);

        let second = browser.submit_login(&html, "alice", PASSWORD).await;
        let second_value = set_cookies(&second)
            .into_iter()
            .find(|c| c.starts_with("gatehouse_session="))
            .map(|c| cookie_value(&c))
            .unwrap();
        assert_ne!(first_value, second_value);
        // The first session is gone: presenting its cookie gets no session.
        let stale = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
        let response = stale.get(&url).header("cookie", format!("gatehouse_session={first_value}")).send().await.unwrap();
        assert_eq!(query_param(&location(response.headers()).unwrap(), "error").as_deref(), Some("login_required"));
    }

    async fn logout_needs_a_post_with_the_session_csrf_token(app) {
        let browser = app.browser();
        let (url, _) = app.authorize_url(&app.client, &[]);
        browser.sign_in(&url, "alice", PASSWORD).await;
        let signed_in = || async {
            let (url, _) = app.authorize_url(&app.client, &[("prompt", "none")]);
            query_param(&location(browser.get(&url).await.headers()).unwrap(), "code").is_some()
        };
        // GET only asks.
        let confirm = browser.get("/logout").await.text().await.unwrap();
        assert!(confirm.contains("Sign out?"));
        assert!(signed_in().await);
        // POST without the token is refused.
        let refused = browser.http.post(app.url("/logout/confirm")).form(&[("csrf_token", "nope")]).send().await.unwrap();
        assert_eq!(refused.status(), 403);
        assert!(signed_in().await);
        let csrf = hidden_input(&confirm, "csrf_token").unwrap();
        let done = browser.http.post(app.url("/logout/confirm")).form(&[("csrf_token", csrf)]).send().await.unwrap();
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("You are signed out"));
        assert!(!signed_in().await);
    }

    async fn a_code_from_an_ended_session_cannot_be_redeemed(app) {
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&app.client, &[]);
        let to = browser.sign_in(&url, "alice", PASSWORD).await;
        let code = query_param(&to, "code").unwrap();
        let confirm = browser.get("/logout").await.text().await.unwrap();
        let csrf = hidden_input(&confirm, "csrf_token").unwrap();
        browser.http.post(app.url("/logout/confirm")).form(&[("csrf_token", csrf)]).send().await.unwrap();
        let response = app.redeem(&app.client, &code, &verifier).await;
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }

    async fn pages_escape_names_and_send_security_headers(app) {
        let client = add_client(&app.store, "evil", false, 0, |c| {
            c.name = "<script>alert(1)</script>".into();
            c.redirect_uris = vec![PUBLIC_REDIRECT.into()];
        })
        .await;
        let (url, _) = app.authorize_url(&client, &[("login_hint", "\"><img src=x onerror=alert(1)>")]);
        let response = app.browser().follow(&url).await;
        let headers = response.headers().clone();
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>alert(1)"), "client name must be escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
        assert!(!html.contains("<img src=x"), "login_hint must be escaped");
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "default-src 'none'"] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(headers.get("strict-transport-security").is_none(), "no HSTS on plain http");
        assert!(headers.get("access-control-allow-origin").is_none(), "pages never answer CORS");
    }
}

#[tokio::test]
async fn https_issuer_gets_host_prefixed_secure_cookies_and_hsts() {
    let app = spawn_app_with(Backend::Sqlite, |raw| raw.issuer = "https://id.example.test".into())
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(app.url("/login")).send().await.unwrap();
    assert!(page.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    let csrf_cookie = set_cookies(&page).into_iter().next().unwrap();
    assert!(
        csrf_cookie.starts_with("__Host-gatehouse_csrf=") && csrf_cookie.contains("Secure"),
        "{csrf_cookie}"
    );
    let html = page.text().await.unwrap();
    let response = http
        .post(app.url("/login"))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .header("origin", "https://id.example.test")
        .form(&[
            ("identifier", "alice".to_string()),
            ("password", PASSWORD.to_string()),
            ("csrf_token", hidden_input(&html, "csrf_token").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let session = set_cookies(&response)
        .into_iter()
        .find(|c| c.contains("gatehouse_session"))
        .unwrap();
    assert!(session.starts_with("__Host-gatehouse_session="), "{session}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Domain="), "__Host- cookies carry no Domain");
}
