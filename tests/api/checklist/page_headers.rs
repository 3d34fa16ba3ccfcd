//! Checklist section E, headers every answer carries: no page may be framed
//! (`frame-ancestors 'none'` and `X-Frame-Options: DENY`, E2), and no answer lets a code
//! or token leave in a Referer (`Referrer-Policy: no-referrer`, E7). Each page is reached
//! the way a user reaches it; the JSON endpoints are called as an app calls them.

use super::*;
use crate::on_both_backends;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A third-party app (it gets a consent page) allowed form_post.
async fn partner(app: &TestApp) -> TestClient {
    add_client(&app.store, "partner", true, 0, |c| {
        c.name = "Partner".into();
        c.redirect_uris = vec!["https://partner.example.com/cb".into()];
        c.first_party = false;
    })
    .await
}

/// A browser signed in as alice, at the partner's consent page: that page's headers and
/// its HTML.
async fn at_consent(app: &TestApp, partner: &TestClient, extra: &[(&str, &str)]) -> (Browser, HeaderMap, String) {
    let browser = app.browser();
    let (url, _) = app.authorize_url(partner, extra);
    let login = browser.follow(&url).await.text().await.unwrap();
    let response = browser.submit_login(&login, "alice", PASSWORD).await;
    let consent = browser.follow(&location(response.headers()).unwrap()).await;
    assert_eq!(consent.status(), 200);
    let headers = consent.headers().clone();
    let html = consent.text().await.unwrap();
    assert!(html.contains("name=\"decision\""), "the consent page: {html}");
    (browser, headers, html)
}

/// Presses "allow" on the consent page in `html`.
async fn allow(app: &TestApp, browser: &Browser, html: &str) -> reqwest::Response {
    let form = [
        ("csrf_token", hidden_input(html, "csrf_token").unwrap()),
        ("request_id", hidden_input(html, "request_id").unwrap()),
        ("decision", "allow".to_string()),
    ];
    browser.http.post(app.url("/consent")).form(&form).send().await.unwrap()
}

fn assert_unframeable(case: &str, headers: &HeaderMap) {
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{case}: no Content-Security-Policy"))
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{case}: {csp}");
    let xfo = headers
        .get("x-frame-options")
        .unwrap_or_else(|| panic!("{case}: no X-Frame-Options"));
    assert!(xfo.to_str().unwrap().eq_ignore_ascii_case("DENY"), "{case}: {xfo:?}");
}

fn assert_no_referrer(case: &str, headers: &HeaderMap) {
    let policy = headers
        .get("referrer-policy")
        .unwrap_or_else(|| panic!("{case}: no Referrer-Policy"));
    assert_eq!(policy, "no-referrer", "{case}");
}

fn seen(case: &str, response: &reqwest::Response) -> (String, u16, HeaderMap) {
    (case.to_string(), response.status().as_u16(), response.headers().clone())
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
}

on_both_backends! {
    async fn e2_no_page_may_be_framed(app) {
        let partner = partner(&app).await;
        let mut pages: Vec<(String, u16, HeaderMap)> = Vec::new();

        let (browser, consent_headers, consent_html) = at_consent(&app, &partner, &[]).await;
        pages.push(("consent page".into(), 200, consent_headers));
        let wrong = [
            ("csrf_token", "forged".to_string()),
            ("request_id", hidden_input(&consent_html, "request_id").unwrap()),
            ("decision", "allow".to_string()),
        ];
        pages.push(seen("consent refused (forged CSRF)", &browser.http.post(app.url("/consent")).form(&wrong).send().await.unwrap()));
        pages.push(seen("account page", &browser.get("/account").await));
        pages.push(seen("account consents page", &browser.get("/account/consents").await));
        pages.push(seen("account form refused (no CSRF)", &browser.http.post(app.url("/account/profile")).form(&[("given_name", "x")]).send().await.unwrap()));
        pages.push(seen("account form answered (wrong password)", &account_form(&app, &browser, "/account/email", &[("current_password", "wrong"), ("email", "x@example.com")]).await));
        pages.push(seen("home page", &browser.get("/").await));
        pages.push(seen("logout question", &browser.get("/logout").await));
        let question = browser.get("/logout").await.text().await.unwrap();
        let confirm = [("csrf_token", hidden_input(&question, "csrf_token").unwrap())];
        let signed_out = browser.http.post(app.url("/logout/confirm")).form(&confirm).send().await.unwrap();
        pages.push(seen("signed-out page (after confirming)", &signed_out));
        pages.push(seen("signed-out page (no session)", &app.browser().get("/logout").await));

        let anonymous = app.browser();
        for path in ["/login", "/signup", "/forgot"] {
            pages.push(seen(path, &anonymous.get(path).await));
        }
        pages.push(seen("authorize error page (unknown client)", &anonymous.get(&app.authorize_url(&app.client, &[("client_id", "nope")]).0).await));
        pages.push(seen("authorize error page (unregistered redirect_uri)", &anonymous.get(&app.authorize_url(&app.client, &[("redirect_uri", "https://evil.example/cb")]).0).await));
        pages.push(seen("not found", &anonymous.get("/no/such/page").await));
        pages.push(seen("dead confirmation link", &anonymous.get("/signup/confirm?token=dead").await));
        pages.push(seen("dead email-change link", &anonymous.get("/account/email/confirm?token=dead").await));
        pages.push(seen("reset page without a link", &anonymous.get("/reset").await));
        pages.push(seen("login refused (no CSRF)", &anonymous.http.post(app.url("/login")).form(&[("identifier", "alice"), ("password", PASSWORD)]).send().await.unwrap()));
        pages.push(seen("check your email", &sign_up(&app, &anonymous, "carol", "carol@example.com").await));
        let link = nth_mail(&app, "carol@example.com", "Confirm your email", 1).await.link();
        pages.push(seen("confirmation button page", &anonymous.get(&link).await));

        // form_post: the page that carries the code.
        let signed_in = signed_in_browser(&app, "alice", PASSWORD).await;
        let (url, _) = app.authorize_url(&app.client, &[("response_mode", "form_post")]);
        let form_post = signed_in.follow(&url).await;
        assert!(form_post.headers().get("location").is_none());
        pages.push(seen("form_post page", &form_post));

        // A page answered 429.
        let html = anonymous.get("/login").await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf_token").unwrap();
        let mut limited = None;
        for _ in 0..40 {
            let response = anonymous.http.post(app.url("/signup/resend")).form(&[("csrf_token", csrf.as_str()), ("email", "nobody@example.com")]).send().await.unwrap();
            if response.status() == 429 {
                limited = Some(response);
                break;
            }
        }
        pages.push(seen("too many attempts", &limited.expect("the resend form is rate limited")));

        for (case, _, headers) in &pages {
            assert!(is_html(headers), "{case} is a page");
            assert_unframeable(case, headers);
        }
        let statuses: Vec<u16> = pages.iter().map(|(_, s, _)| *s).collect();
        for status in [200, 400, 403, 404, 429] {
            assert!(statuses.contains(&status), "a {status} page was checked: {statuses:?}");
        }
    }

    async fn e7_no_answer_lets_a_code_or_token_leave_in_a_referer(app) {
        let partner = partner(&app).await;
        let mut answers: Vec<(String, u16, HeaderMap)> = Vec::new();

        // The consent page, and its answer: a redirect whose URL carries the code.
        let (browser, consent_headers, html) = at_consent(&app, &partner, &[]).await;
        answers.push(("consent page".into(), 200, consent_headers));
        let allowed = allow(&app, &browser, &html).await;
        answers.push(seen("consent answer", &allowed));
        let resumed = browser.follow(&location(allowed.headers()).unwrap()).await;
        let to = location(resumed.headers()).unwrap();
        assert!(to.starts_with("https://partner.example.com/cb?") && to.contains("code="), "{to}");
        answers.push(seen("redirect to the app with a code (after consent)", &resumed));

        // The redirect to the app without consent, in query and form_post mode.
        let (url, verifier) = app.authorize_url(&app.client, &[("scope", "openid offline_access")]);
        let redirect = browser.get(&url).await;
        let code = query_param(&location(redirect.headers()).unwrap(), "code").unwrap();
        answers.push(seen("redirect to the app with a code", &redirect));
        let (url, _) = app.authorize_url(&app.client, &[("response_mode", "form_post")]);
        let form_post = browser.get(&url).await;
        assert_eq!(form_post.status(), 200);
        answers.push(seen("form_post page", &form_post));
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "none"), ("max_age", "0")]);
        answers.push(seen("error redirect to the app", &browser.get(&url).await));

        // JSON, as apps call it.
        let tokens = app.redeem(&app.client, &code, &verifier).await;
        answers.push(seen("token response", &tokens));
        let tokens: Value = tokens.json().await.unwrap();
        let access_token = tokens["access_token"].as_str().unwrap();
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        answers.push(seen("token error", &app.redeem(&app.client, "spent", &verifier).await));
        answers.push(seen("refresh response", &app.refresh(&app.client, refresh_token, &[]).await));
        let http = reqwest::Client::new();
        answers.push(seen("userinfo", &http.get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap()));
        answers.push(seen("userinfo error", &http.get(app.url("/userinfo")).bearer_auth("nope").send().await.unwrap()));
        answers.push(seen("introspection", &app.token_request_to("/introspect", &app.client, &[("token", access_token)]).await));
        answers.push(seen("revocation", &app.token_request_to("/revoke", &app.client, &[("token", access_token)]).await));
        answers.push(seen("discovery", &http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap()));
        answers.push(seen("jwks", &http.get(app.url("/jwks")).send().await.unwrap()));
        // Pages a user reaches with a code or token in the URL, or on the way to one.
        answers.push(seen("login page of a request", &app.browser().follow(&app.authorize_url(&app.client, &[]).0).await));
        answers.push(seen("confirmation link page (dead)", &app.browser().get("/signup/confirm?token=dead").await));
        // A generic 5xx, with the sessions table gone.
        sqlx::query("ALTER TABLE sessions RENAME TO sessions_gone").execute(app.store.pool()).await.unwrap();
        let failed = browser.get("/account").await;
        assert!(failed.status().is_server_error(), "{}", failed.status());
        answers.push(seen("5xx answer", &failed));

        let json = answers.iter().filter(|(_, _, h)| h.get("content-type").is_some_and(|v| v.to_str().unwrap().contains("json"))).count();
        assert!(json >= 8, "{json} JSON answers checked");
        for (case, _, headers) in &answers {
            assert_no_referrer(case, headers);
        }
    }

    // E2: the generic 5xx answer (AppError's text/plain body, not a rendered page) refuses
    // framing too.
    async fn e2_a_generic_5xx_answer_forbids_framing_too(app) {
        let browser = signed_in_browser(&app, "alice", PASSWORD).await;
        sqlx::query("ALTER TABLE sessions RENAME TO sessions_gone").execute(app.store.pool()).await.unwrap();
        let failed = browser.get("/account").await;
        assert!(failed.status().is_server_error(), "{}", failed.status());
        let headers = failed.headers();
        let csp = headers.get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "Content-Security-Policy: {csp:?}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.to_str().unwrap().to_string()), Some("DENY".to_string()));
    }
}
