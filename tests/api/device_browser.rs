//! The device page in headless Chromium: a user opens the link a TV shows, signs in, finds
//! the code filled in, compares it and allows the app; the TV's next poll gets tokens.
//! Screenshots (phone and desktop) land in `target/screenshots/browser_device_journey/`.

use crate::browser::Chrome;
use crate::helpers::*;
use fantoccini::Locator;
use gatehouse::clients::DEVICE_CODE_GRANT;
use std::time::Duration;

const TEST: &str = "browser_device_journey";
/// A guard against a hung browser, not a measurement.
const JOURNEY_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn browser_device_journey() {
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
    let tv = add_client(&app.store, "tv-app", false, app.clock.now(), |c| {
        c.name = "Living Room TV".into();
        c.grant_types = vec![DEVICE_CODE_GRANT.into()];
    })
    .await;
    let started: serde_json::Value = app
        .token_request_to("/device_authorization", &tv, &[("scope", "openid profile")])
        .await
        .json()
        .await
        .unwrap();
    let user_code = started["user_code"].as_str().unwrap();

    chrome
        .goto(started["verification_uri_complete"].as_str().unwrap())
        .await;
    chrome.wait_for(Locator::Id("identifier")).await;
    chrome.type_into("#identifier", &app.user.username).await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("button.primary").await;

    let field = chrome.wait_for(Locator::Id("user_code")).await;
    assert_eq!(chrome.heading().await, "Connect a device");
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(user_code));
    chrome.screenshots("device").await;
    chrome.click("button.primary").await;

    chrome.wait_for(Locator::Id("device-allow")).await;
    assert_eq!(chrome.heading().await, "Allow Living Room TV on your device?");
    chrome.wait_for_text(user_code).await;
    chrome.screenshots("device_confirm").await;
    chrome.click("#device-allow").await;
    chrome.wait_for_text("Device connected").await;
    chrome.screenshots("device_done").await;

    app.clock.advance(5);
    let tokens = app
        .token_request(
            &tv,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", started["device_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(tokens.status(), 200);
}
