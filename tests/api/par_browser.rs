//! A pushed authorization request in headless Chromium: the app pushes its request, the
//! browser carries only the `request_uri`, the user signs in, and the app gets its code
//! and its own `state` back. Screenshots land in `target/screenshots/browser_par_journey/`.

use crate::browser::{start_partner_site, Chrome};
use crate::helpers::*;
use fantoccini::Locator;
use std::time::Duration;

const TEST: &str = "browser_par_journey";
/// A guard against a hung browser, not a measurement.
const JOURNEY_LIMIT: Duration = Duration::from_secs(120);
const VERIFIER: &str = "a-pushed-request-verifier-for-the-browser-journey-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_par_journey() {
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    tokio::time::timeout(JOURNEY_LIMIT, journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

async fn journey(app: &TestApp, chrome: &Chrome) {
    let site = start_partner_site().await;
    let callback = format!("{site}/cb");
    let partner = add_client(&app.store, "pushing-app", true, app.clock.now(), |c| {
        c.name = "Pushing App".into();
        c.redirect_uris = vec![callback.clone()];
        c.require_par = true;
    })
    .await;
    let challenge = pkce_challenge(VERIFIER);
    let pushed: serde_json::Value = app
        .token_request_to(
            "/par",
            &partner,
            &[
                ("client_id", "pushing-app"),
                ("redirect_uri", &callback),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "kept-off-the-url"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "pushing-app")
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
        .finish();
    chrome.goto(&app.url(&format!("/authorize?{query}"))).await;
    chrome.wait_for(Locator::Id("identifier")).await;
    assert_eq!(chrome.heading().await, "Sign in");
    chrome.wait_for_text("Pushing App").await;
    chrome.screenshots("login_from_pushed_request").await;
    chrome.type_into("#identifier", &app.user.username).await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("button.primary").await;

    let back = chrome.wait_for_url(&callback).await;
    let state = back
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned());
    assert_eq!(state.as_deref(), Some("kept-off-the-url"));
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens = app.redeem(&partner, &code, VERIFIER).await;
    assert_eq!(tokens.status(), 200);
}
