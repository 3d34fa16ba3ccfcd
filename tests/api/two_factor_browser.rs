//! The authenticator-app pages in headless Chromium, as a user meets them: set up from the
//! account page (QR code and key), the recovery codes, then a later sign-in that asks for
//! the code. Screenshots of each page, phone and desktop, land in
//! `target/screenshots/browser_authenticator_app_journey/`.

use crate::browser::Chrome;
use crate::helpers::*;
use fantoccini::Locator;
use std::time::Duration;

const TEST: &str = "browser_authenticator_app_journey";
/// A guard against a hung browser, not a measurement.
const JOURNEY_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn browser_authenticator_app_journey() {
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    tokio::time::timeout(JOURNEY_LIMIT, journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

async fn sign_in_with_password(app: &TestApp, chrome: &Chrome) {
    chrome.goto(&app.url("/login")).await;
    chrome.type_into("#identifier", &app.user.username).await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("button.primary").await;
}

async fn journey(app: &TestApp, chrome: &Chrome) {
    sign_in_with_password(app, chrome).await;
    chrome.wait_for_url(&app.url("/account")).await;
    chrome.click("#two-factor-link").await;
    chrome.wait_for(Locator::Id("start-totp")).await;
    assert_eq!(chrome.heading().await, "Two-factor and passkeys");
    chrome.screenshots("two_factor_none").await;

    chrome.click("#start-totp").await;
    let key = chrome.wait_for(Locator::Id("totp-secret")).await.text().await.unwrap();
    assert_eq!(chrome.heading().await, "Set up an authenticator app");
    chrome.wait_for(Locator::Css("figure.qr svg")).await;
    chrome.screenshots("totp_setup").await;
    let secret = gatehouse::totp::decode_secret(key.trim()).expect("the key shown is base32");
    chrome
        .type_into("#code", &gatehouse::totp::code_at(&secret, app.clock.now()))
        .await;
    chrome.click("button.primary").await;

    chrome.wait_for(Locator::Id("recovery-codes")).await;
    assert_eq!(chrome.heading().await, "Save your recovery codes");
    let codes = chrome
        .client
        .find_all(Locator::Css("#recovery-codes li"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    chrome.screenshots("recovery_codes").await;
    chrome.click("#recovery-continue").await;
    chrome.wait_for_text("An authenticator app is set up").await;
    chrome.screenshots("two_factor_totp").await;

    // A later sign-in, in a fresh browser session: the password, then the code.
    chrome.client.delete_all_cookies().await.unwrap();
    app.clock.advance(30);
    sign_in_with_password(app, chrome).await;
    chrome.wait_for(Locator::Id("code")).await;
    assert_eq!(chrome.heading().await, "Confirm it's you");
    chrome.screenshots("second_factor").await;
    chrome.type_into("#code", "000000").await;
    chrome.click("#totp-form button").await;
    chrome.wait_for(Locator::Id("second-factor-error")).await;
    chrome.screenshots("second_factor_wrong").await;
    chrome
        .type_into("#code", &gatehouse::totp::code_at(&secret, app.clock.now()))
        .await;
    chrome.click("#totp-form button").await;
    chrome.wait_for_url(&app.url("/account")).await;
    chrome.goto(&app.url("/session/whoami")).await;
    chrome.wait_for_text("\"otp\"").await;
}
