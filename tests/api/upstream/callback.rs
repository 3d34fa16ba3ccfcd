//! The callback refuses what it cannot trust with a clear 400 page and a way back to the
//! login page (never a 500, never a sign-in): a wrong or missing `state`, a browser
//! without the trip's cookie, a replayed callback URL, `error=access_denied`, a Google
//! Workspace token without the configured `hd`; and an upstream that is down gives a 503
//! page naming it.

use super::*;
use gatehouse::config::RawConfig;

/// Up to the callback URL (not visited) in `browser`, signed in at the upstream as alice.
async fn callback_url(fed: &Federation, browser: &Browser) -> String {
    let (login, _) = fed.open_app(browser).await;
    fed.press_and_sign_in_upstream(browser, &login.text, "alice").await
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { value.to_string() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

fn without_param(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

federated! { Federation::corp;
    /// A state that is not the trip's, or none at all: 400, not signed in.
    async fn a_wrong_or_missing_state_is_refused(fed: Federation) {
        let browser = fed.browser();
        let callback = callback_url(&fed, &browser).await;
        let wrong = get(&browser, &with_param(&callback, "state", "not-the-state")).await;
        wrong.assert_error_page(400);
        let missing = get(&browser, &without_param(&callback, "state")).await;
        missing.assert_error_page(400);
        assert!(!signed_in_at(&browser, &fed.down).await);
    }

    /// The callback URL opened in a browser without the trip's cookie: 400, and that
    /// browser is not signed in.
    async fn a_callback_without_the_trip_cookie_is_refused(fed: Federation) {
        let browser = fed.browser();
        let callback = callback_url(&fed, &browser).await;
        let stranger = fed.browser();
        let page = get(&stranger, &callback).await;
        page.assert_error_page(400);
        assert!(!signed_in_at(&stranger, &fed.down).await);
    }

    /// A callback URL works once; the second time it is a 400 page.
    async fn a_replayed_callback_is_refused(fed: Federation) {
        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (login, _) = fed.open_app(&browser).await;
        let callback = fed.press_and_sign_in_upstream(&browser, &login.text, "uma").await;
        let first = walk(&browser, &callback, &[&fed.down.base]).await;
        first.assert_step("Choose a username");
        let second = get(&browser, &callback).await;
        second.assert_error_page(400);
    }

    /// The user says no at the upstream: error=access_denied with the trip's own state is
    /// a 400 page saying they cancelled.
    async fn access_denied_at_the_upstream_is_a_clear_page(fed: Federation) {
        let browser = fed.browser();
        let (login, _) = fed.open_app(&browser).await;
        let pressed = press(&browser, &fed.down, &login.text).await;
        assert_eq!(pressed.status, 303, "{pressed:?}");
        let state = query_param(pressed.location.as_deref().unwrap(), "state").expect("state");
        let query = serde_urlencoded::to_string([("error", "access_denied"), ("state", state.as_str())]).unwrap();
        let page = get(&browser, &format!("{}?{query}", fed.down.url(CORP_CALLBACK))).await;
        page.assert_error_page(400);
        assert!(page.text.to_lowercase().contains("cancel"), "{page:?}");
        assert!(!signed_in_at(&browser, &fed.down).await);
    }

    /// The pending step without its cookie: "This sign-in has expired".
    async fn the_pending_step_without_its_cookie_has_expired(fed: Federation) {
        let browser = fed.browser();
        let page = get(&browser, &fed.down.url("/login/upstream/continue")).await;
        page.assert_error_page(400);
        assert!(page.text.contains("expired"), "{page:?}");
    }

    /// The button's redirect carries what the upstream needs: code flow with PKCE S256,
    /// state and nonce, to the registered redirect URI; and a short-lived cookie.
    async fn the_button_starts_a_code_flow_with_pkce(fed: Federation) {
        let browser = fed.browser();
        let (login, _) = fed.open_app(&browser).await;
        let form = form_fields(&login.text, CORP_START).unwrap();
        let response = browser.http.post(fed.down.url(CORP_START)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .find(|c| c.starts_with("gatehouse_upstream="))
            .expect("the gatehouse_upstream cookie");
        let lower = cookie.to_ascii_lowercase();
        assert!(lower.contains("httponly") && lower.contains("samesite=lax"), "{cookie}");
        let to = location(response.headers()).unwrap();
        assert!(to.starts_with(&fed.up.url("/authorize?")), "{to}");
        for (name, value) in [
            ("response_type", "code"),
            ("client_id", DOWNSTREAM_CLIENT),
            ("code_challenge_method", "S256"),
        ] {
            assert_eq!(query_param(&to, name).as_deref(), Some(value), "{to}");
        }
        assert_eq!(query_param(&to, "redirect_uri"), Some(fed.down.url(CORP_CALLBACK)), "{to}");
        for name in ["state", "nonce", "code_challenge"] {
            assert!(query_param(&to, name).is_some_and(|v| v.len() >= 16), "{name} in {to}");
        }
        assert!(query_param(&to, "hd").is_none(), "no hd for kind oidc: {to}");
    }
}

federated! { Federation::google_hosted_domain;
    /// Google with hosted_domain: `hd` is sent, and a token without it (the upstream
    /// Gatehouse never says hd) is refused with a clear page; no account is made.
    async fn a_token_without_the_hosted_domain_is_refused(fed: Federation) {
        fed.upstream_user("uma", "uma@corp.example").await;
        let browser = fed.browser();
        let (login, _) = fed.open_app(&browser).await;
        let pressed = press(&browser, &fed.down, &login.text).await;
        assert_eq!(pressed.status, 303, "{pressed:?}");
        let to = pressed.location.clone().unwrap();
        assert_eq!(query_param(&to, "hd").as_deref(), Some("corp.example"), "{to}");
        let callback = fed.sign_in_upstream(&browser, &to, "uma").await;
        let page = walk(&browser, &callback, &[&fed.down.base]).await;
        page.assert_error_page(400);
        assert!(!page.text.contains("Choose a username"), "{page:?}");
        assert!(!signed_in_at(&browser, &fed.down).await);
        let made = fed.down.store.account_by_identifier("uma@corp.example").await.unwrap();
        assert!(made.is_none(), "no account for a refused token");
        let later = get(&browser, &fed.down.url("/login/upstream/continue")).await;
        assert_ne!(later.status, 200, "no pending step either: {later:?}");
    }
}

/// `[[upstream]] corp` at an issuer on a port nothing listens on.
fn unreachable_upstream(raw: &mut RawConfig) {
    raw.upstream = vec![RawUpstream {
        id: CORP.into(),
        kind: "oidc".into(),
        name: Some(CORP_NAME.into()),
        issuer: Some(format!("http://127.0.0.1:{}", free_port())),
        client_id: DOWNSTREAM_CLIENT.into(),
        client_secret: Some(secrecy::SecretString::from("unused".to_string())),
        ..Default::default()
    }];
}

crate::on_both_backends_with! { unreachable_upstream;
    /// Gatehouse starts although its upstream is down; pressing the button gives a 503
    /// page naming the upstream, and the password sign-in still works.
    async fn an_unreachable_upstream_is_a_503_page(app) {
        let browser = app.browser();
        let login = super::get(&browser, &app.url("/login")).await;
        assert!(login.text.contains(CORP_BUTTON), "{login:?}");
        let page = press(&browser, &app, &login.text).await;
        assert_eq!(page.status, 503, "{page:?}");
        assert!(page.location.is_none(), "{page:?}");
        assert!(page.text.contains(CORP_NAME) && page.text.contains("not reachable"), "{page:?}");
        assert!(app.code_for(&app.client).await.0.len() > 10, "password sign-in unaffected");
    }
}
