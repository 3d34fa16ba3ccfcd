//! Consent for third-party clients: asked once per scope set, remembered, forced by
//! prompt=consent, refused silently with prompt=none, and revocable (which also revokes
//! the client's tokens). The page shows the client's logo and links to its privacy policy
//! and terms, escaped, with a Content-Security-Policy that lets in that logo's origin only.

use crate::helpers::*;
use crate::on_both_backends;

async fn third_party(app: &TestApp) -> TestClient {
    add_client(&app.store, "partner", true, 0, |c| {
        c.name = "Partner App".into();
        c.redirect_uris = vec!["https://partner.example.com/cb".into()];
        c.first_party = false;
    })
    .await
}

/// Follows an authorization to the consent page; returns the page's HTML.
async fn consent_page(app: &TestApp, browser: &Browser, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let (url, _) = app.authorize_url(client, extra);
    let mut response = browser.follow(&url).await;
    let mut html = response.text().await.unwrap();
    if html.contains("name=\"password\"") {
        response = browser.submit_login(&html, "alice", PASSWORD).await;
        response = browser.follow(&location(response.headers()).unwrap()).await;
        html = response.text().await.unwrap();
    }
    html
}

async fn decide(app: &TestApp, browser: &Browser, html: &str, decision: &str) -> String {
    let form = [
        ("csrf_token", hidden_input(html, "csrf_token").unwrap()),
        ("request_id", hidden_input(html, "request_id").unwrap()),
        ("decision", decision.to_string()),
    ];
    let response = browser.http.post(app.url("/consent")).form(&form).send().await.unwrap();
    let next = location(response.headers()).expect("redirect after the decision");
    if next.starts_with('/') {
        location(browser.follow(&next).await.headers()).expect("redirect to the app")
    } else {
        next
    }
}

on_both_backends! {
    async fn third_party_apps_ask_once_and_name_themselves(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        let html = consent_page(&app, &browser, &partner, &[("scope", "openid email offline_access")]).await;
        assert!(html.contains("Allow Partner App?"), "{html}");
        assert!(html.contains("partner.example.com"), "the redirect host is shown");
        assert!(html.contains("See your email address"));
        assert!(html.contains("Stay connected"));
        assert!(!html.contains("postal address"), "only the scopes asked for are listed");
        let to = decide(&app, &browser, &html, "allow").await;
        assert!(to.starts_with("https://partner.example.com/cb?code="), "{to}");

        // Remembered: the same scopes go straight through, even silently.
        let (url, _) = app.authorize_url(&partner, &[("scope", "openid email"), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert!(query_param(&to, "code").is_some(), "{to}");
        // A new scope asks again; prompt=none cannot ask: consent_required.
        let (url, _) = app.authorize_url(&partner, &[("scope", "openid profile"), ("prompt", "none")]);
        let to = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(query_param(&to, "error").as_deref(), Some("consent_required"));
        // prompt=consent always asks.
        let html = consent_page(&app, &browser, &partner, &[("scope", "openid email"), ("prompt", "consent")]).await;
        assert!(html.contains("Allow Partner App?"));
    }

    async fn denying_consent_tells_the_app_access_denied(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        let html = consent_page(&app, &browser, &partner, &[]).await;
        let to = decide(&app, &browser, &html, "deny").await;
        assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
        assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"));
    }

    async fn first_party_apps_never_show_the_consent_page(app) {
        let (url, _) = app.authorize_url(&app.client, &[("prompt", "consent"), ("scope", "openid offline_access")]);
        let to = app.browser().sign_in(&url, "alice", PASSWORD).await;
        assert!(query_param(&to, "code").is_some(), "first-party apps skip consent: {to}");
    }

    async fn withdrawing_consent_revokes_the_apps_tokens(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        let (url, verifier) = app.authorize_url(&partner, &[("scope", "openid offline_access")]);
        let mut response = browser.follow(&url).await;
        let html = response.text().await.unwrap();
        response = browser.submit_login(&html, "alice", PASSWORD).await;
        response = browser.follow(&location(response.headers()).unwrap()).await;
        let html = response.text().await.unwrap();
        let to = decide(&app, &browser, &html, "allow").await;
        let code = query_param(&to, "code").unwrap();
        let tokens: serde_json::Value = app.redeem(&partner, &code, &verifier).await.json().await.unwrap();

        let list = browser.get("/account/consents").await.text().await.unwrap();
        assert!(list.contains("Partner App"));
        let form = [("csrf_token", hidden_input(&list, "csrf_token").unwrap()), ("client_id", "partner".to_string())];
        // Without the session's CSRF token nothing happens.
        let forged = browser.http.post(app.url("/account/consents/revoke")).form(&[("client_id", "partner")]).send().await.unwrap();
        assert_eq!(forged.status(), 403);
        browser.http.post(app.url("/account/consents/revoke")).form(&form).send().await.unwrap();
        let list = browser.get("/account/consents").await.text().await.unwrap();
        assert!(!list.contains("Partner App"));
        assert_eq!(app.userinfo_status(tokens["access_token"].as_str().unwrap()).await, 401);
        let (_, error) = oauth_error(app.refresh(&partner, tokens["refresh_token"].as_str().unwrap(), &[]).await).await;
        assert_eq!(error, "invalid_grant");
    }
}

on_both_backends! {
    async fn consent_to_one_request_does_not_cover_a_wider_parked_one(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        // A wider request parked first (the browser is not signed in yet).
        let (wide, _) = app.authorize_url(&partner, &[("scope", "openid email offline_access")]);
        let parked = location(browser.get(&wide).await.headers()).unwrap();
        let wide_id = parked.split("request_id=").nth(1).unwrap().to_string();
        // Then a narrow one the user does approve.
        let html = consent_page(&app, &browser, &partner, &[("scope", "openid")]).await;
        let to = decide(&app, &browser, &html, "allow").await;
        assert!(query_param(&to, "code").is_some());
        // Resuming the wide one must ask again, not hand out a code.
        let response = browser.get(&format!("/authorize/resume/{wide_id}")).await;
        let next = location(response.headers()).unwrap();
        assert!(next.starts_with("/consent?request_id="), "{next}");
    }

    async fn the_consent_page_names_the_address_and_phone_scopes_in_plain_words(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        let html = consent_page(&app, &browser, &partner, &[("scope", "openid address phone")]).await;
        assert!(html.contains("See your postal address"), "{html}");
        assert!(html.contains("See your phone number"), "{html}");
    }
}

/// The page's Content-Security-Policy `img-src` sources.
fn image_sources(response: &reqwest::Response) -> Vec<String> {
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    let directive = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src "))
        .unwrap();
    directive.split(' ').skip(1).map(str::to_string).collect()
}

on_both_backends! {
    async fn the_consent_page_shows_the_apps_logo_and_documents_escaped(app) {
        let partner = third_party(&app).await;
        // Through the operator's path, so the values pass the same checks as any other.
        let settings = gatehouse::admin::clients::ClientSettings {
            name: Some("Partner \"Quoted\" <App>".into()),
            logo_uri: Some("https://cdn.partner.example.com/logo.png?v=\"onerror=\"alert(1)".into()),
            policy_uri: Some("https://partner.example.com/privacy".into()),
            tos_uri: Some("https://partner.example.com/terms?a=1&b=2".into()),
            ..Default::default()
        };
        gatehouse::admin::clients::update(&app.store, &app.state.outbound, &partner.id, settings, false).await.unwrap();
        let browser = app.browser();
        let html = consent_page(&app, &browser, &partner, &[]).await;
        assert!(
            html.contains(concat!(
                r#"<img class="client-logo" src="https:&#x2f;&#x2f;cdn.partner.example.com&#x2f;logo.png?v=&quot;onerror=&quot;alert(1)""#,
                r#" alt="Partner &quot;Quoted&quot; &lt;App&gt;" width="64" height="64" referrerpolicy="no-referrer">"#,
            )),
            "{html}"
        );
        assert!(!html.contains("\"onerror"), "the quote stays inside the attribute: {html}");
        assert!(html.contains(r#"<a href="https:&#x2f;&#x2f;partner.example.com&#x2f;privacy" target="_blank" rel="noopener noreferrer">Privacy policy</a>"#), "{html}");
        assert!(html.contains(r#"<a href="https:&#x2f;&#x2f;partner.example.com&#x2f;terms?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">Terms of service</a>"#), "{html}");

        // The policy lets in the logo's origin, on this page only.
        let (url, _) = app.authorize_url(&partner, &[]);
        let consent_url = location(browser.get(&url).await.headers()).unwrap();
        let response = browser.get(&consent_url).await;
        assert_eq!(image_sources(&response), ["'self'", "data:", "https://cdn.partner.example.com"]);
        let login = reqwest::get(app.url("/login")).await.unwrap();
        assert_eq!(image_sources(&login), ["'self'", "data:"]);
    }

    async fn without_a_logo_or_documents_the_consent_page_shows_neither(app) {
        let partner = third_party(&app).await;
        let browser = app.browser();
        let html = consent_page(&app, &browser, &partner, &[]).await;
        assert!(html.contains("Allow Partner App?"), "{html}");
        for absent in ["client-logo", "Privacy policy", "Terms of service", "client-links"] {
            assert!(!html.contains(absent), "{absent}: {html}");
        }
        let (url, _) = app.authorize_url(&partner, &[]);
        let consent_url = location(browser.get(&url).await.headers()).unwrap();
        assert_eq!(image_sources(&browser.get(&consent_url).await), ["'self'", "data:"]);
    }

    async fn only_http_s_document_uris_reach_the_consent_page(app) {
        let partner = third_party(&app).await;
        for (field, uri) in [
            ("logo_uri", "javascript:alert(1)"),
            ("policy_uri", "data:text/html,<script>alert(1)</script>"),
            ("tos_uri", "http://partner.example.com/terms"),
            ("logo_uri", "https://user:pw@partner.example.com/logo.png"),
        ] {
            let mut settings = gatehouse::admin::clients::ClientSettings::default();
            match field {
                "logo_uri" => settings.logo_uri = Some(uri.into()),
                "policy_uri" => settings.policy_uri = Some(uri.into()),
                _ => settings.tos_uri = Some(uri.into()),
            }
            let error = gatehouse::admin::clients::update(&app.store, &app.state.outbound, &partner.id, settings, false).await.err().unwrap().to_string();
            assert!(error.contains(field), "{uri}: {error}");
        }
    }
}
