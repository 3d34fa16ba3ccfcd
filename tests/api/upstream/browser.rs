//! The whole journey in headless Chromium (see `tests/api/browser.rs` for the browser's
//! setup, `GATEHOUSE_REQUIRE_BROWSER`, and where screenshots go): an app sends the user to
//! Gatehouse, they press "Continue with Corp SSO", sign in at the upstream, choose a
//! username, and land back in the app; then another user links their existing account
//! with its password. The upstream is the real `gatehouse` binary in its own process (on
//! `localhost`), the downstream the in-process test server (on `127.0.0.1`).
//!
//! Screenshots, at 390 px and 1280 px, in `target/screenshots/<test>/`:
//! `login-upstream` (the login page with the button), `upstream-sign-in` (the upstream's
//! page), `username` (the username step), `link` (the link step) and `sign-in-methods`
//! (the account page's section).

use super::*;
use crate::browser::Chrome;
use fantoccini::Locator;
use std::time::Duration;

/// A guard against a hung browser, not a measurement.
const JOURNEY_LIMIT: Duration = Duration::from_secs(180);

/// A tiny app: GET /cb answers a small page.
async fn start_app_site() -> String {
    use axum::response::Html;
    use axum::routing::get;
    let site = axum::Router::new().route(
        "/cb",
        get(|| async {
            Html("<!doctype html><title>Team Wiki</title><h1>Team Wiki</h1><p>Signed in, back at Team Wiki.</p>")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind app site");
    let base = format!("http://{}", listener.local_addr().expect("app address"));
    tokio::spawn(async move { axum::serve(listener, site).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_upstream_sign_up_and_link_journey() {
    const TEST: &str = "browser_upstream_sign_up_and_link_journey";
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };

    // The upstream: seeded in its database, then served by the real binary.
    let up_dir = tempfile::tempdir().expect("upstream dir");
    let port = free_port();
    let up_base = format!("http://localhost:{port}");
    let db_url = format!("sqlite://{}/upstream.db", up_dir.path().display());
    let store = gatehouse::store::Store::connect(&db_url)
        .await
        .expect("upstream database");
    store.migrate().await.expect("migrate");
    let now = gatehouse::Clock::system().now();
    create_user(&store, "uma", "uma@corp.example", now).await;
    create_user(&store, "alice", "alice@example.com", now).await;

    let secret = gatehouse::clients::generate_secret();
    let upstream = RawUpstream {
        id: CORP.into(),
        kind: "oidc".into(),
        name: Some(CORP_NAME.into()),
        issuer: Some(up_base.clone()),
        client_id: DOWNSTREAM_CLIENT.into(),
        client_secret: Some(secrecy::SecretString::from(secret.clone())),
        ..Default::default()
    };
    let down = spawn_app_with(Backend::Sqlite, move |raw| raw.upstream = vec![upstream])
        .await
        .expect("sqlite app");
    let redirect = down.url(CORP_CALLBACK);
    add_client(&store, DOWNSTREAM_CLIENT, true, now, |c| {
        c.name = "Downstream Gatehouse".into();
        c.redirect_uris = vec![redirect];
        c.secret_hash = Some(gatehouse::secrets::digest(&secret));
    })
    .await;
    store.close().await;
    let mail = crate::smtp::SmtpSink::start().await;
    let smtp = mail.url();
    let up = ServedBinary::start(
        up_dir.path(),
        port,
        &[
            ("GATEHOUSE_ISSUER", up_base.as_str()),
            ("GATEHOUSE_DATABASE_URL", db_url.as_str()),
            ("GATEHOUSE_MAIL__SMTP_URL", smtp.as_str()),
            ("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "8192"),
            ("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1"),
        ],
    )
    .await;

    let journey = journey(&chrome, &down, &up_base);
    if tokio::time::timeout(JOURNEY_LIMIT, journey).await.is_err() {
        panic!("the browser journey hung; the upstream logged:\n{}", up.logs());
    }
    chrome.quit().await;
}

async fn journey(chrome: &Chrome, down: &TestApp, up_base: &str) {
    let site = start_app_site().await;
    let callback = format!("{site}/cb");
    let wiki = add_client(&down.store, "wiki", true, 0, |c| {
        c.name = "Team Wiki".into();
        c.redirect_uris = vec![callback.clone()];
    })
    .await;
    let button = "form[action='/login/upstream/corp'] button[type=submit]";

    // The app sends a new user to Gatehouse; they choose the upstream.
    let (authorize, verifier) = down.authorize_url(&wiki, &[]);
    chrome.goto(&authorize).await;
    chrome.wait_for(Locator::Css(button)).await;
    assert_eq!(chrome.heading().await, "Sign in");
    let login = chrome.wait_for_text(CORP_BUTTON).await;
    assert!(login.contains("Team Wiki"), "{login}");
    chrome.screenshots("login-upstream").await;
    chrome.click(button).await;

    // At the upstream (another host): sign in there.
    chrome.wait_for_url(up_base).await;
    chrome.wait_for(Locator::Id("identifier")).await;
    chrome.screenshots("upstream-sign-in").await;
    chrome.type_into("#identifier", "uma").await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("form[action='/login'] button[type=submit]").await;

    // Back at Gatehouse: one step, the username, with a suggestion filled in.
    chrome.wait_for_text("Choose a username").await;
    assert!(chrome.url().await.as_str().starts_with(&down.base), "on Gatehouse");
    let input = chrome.wait_for(Locator::Css("input[name=username]")).await;
    assert_eq!(input.prop("value").await.expect("value").as_deref(), Some("uma"));
    chrome.screenshots("username").await;
    chrome
        .click("form[action='/login/upstream/username'] button[type=submit]")
        .await;

    // At the app, with a code whose ID token says how the user signed in.
    let landed = chrome.wait_for_url(&callback).await;
    chrome.wait_for_text("Signed in, back at Team Wiki.").await;
    let code = query_param(landed.as_str(), "code").unwrap_or_else(|| panic!("no code in {landed}"));
    let response = down.redeem(&wiki, &code, &verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: Value = response.json().await.expect("token JSON");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("ID token"));
    assert_federated(&claims);

    // The account page lists the upstream.
    chrome.goto(&down.url("/account")).await;
    chrome.wait_for_text("Sign-in methods").await;
    assert!(chrome.text().await.contains(CORP_NAME));
    chrome.screenshots("sign-in-methods").await;

    // Sign out of both, then alice, who has a local account with the same email.
    for base in [down.base.as_str(), up_base] {
        chrome.goto(&format!("{base}/logout")).await;
        chrome.click("form[action='/logout/confirm'] button[type=submit]").await;
        chrome.wait_for_text("You are signed out").await;
    }
    let (authorize, verifier) = down.authorize_url(&wiki, &[]);
    chrome.goto(&authorize).await;
    chrome.click(button).await;
    chrome.wait_for_url(up_base).await;
    chrome.type_into("#identifier", "alice").await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("form[action='/login'] button[type=submit]").await;
    chrome.wait_for_text("Link your account").await;
    chrome.screenshots("link").await;
    chrome
        .type_into("form[action='/login/upstream/link'] input[name=password]", PASSWORD)
        .await;
    chrome
        .click("form[action='/login/upstream/link'] button[type=submit]")
        .await;
    let landed = chrome.wait_for_url(&callback).await;
    let code = query_param(landed.as_str(), "code").unwrap_or_else(|| panic!("no code in {landed}"));
    let response = down.redeem(&wiki, &code, &verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: Value = response.json().await.expect("token JSON");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("ID token"));
    assert_eq!(claims["sub"], json!(down.user.id), "the local alice");
}
