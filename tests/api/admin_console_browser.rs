//! The admin console in headless Chromium: an admin opens /admin, is sent to sign in and
//! back, creates a client and sees its secret once, disables a user, and finds both in
//! the audit log. Each page fits a phone's width (390 px) without sideways scrolling.
//! Screenshots (phone and desktop) land in `target/screenshots/browser_admin_console_journey/`.

use crate::browser::Chrome;
use crate::helpers::*;
use fantoccini::Locator;
use std::time::Duration;

const TEST: &str = "browser_admin_console_journey";
/// A guard against a hung browser, not a measurement.
const JOURNEY_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn browser_admin_console_journey() {
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    tokio::time::timeout(JOURNEY_LIMIT, journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

/// Screenshots at both widths, after checking the page fits a phone.
async fn look(chrome: &Chrome, page: &str) {
    chrome.set_viewport(390, 844).await;
    let overflow = chrome
        .run("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "{page} scrolls sideways on a phone by {overflow}px"
    );
    chrome.screenshots(page).await;
}

async fn journey(app: &TestApp, chrome: &Chrome) {
    app.store
        .set_admin(&app.user.username, true, app.clock.now())
        .await
        .unwrap();
    let bob = create_user(&app.store, "bob", "bob@example.com", app.clock.now()).await;

    chrome.goto(&app.url("/admin")).await;
    chrome.wait_for(Locator::Id("identifier")).await;
    chrome.type_into("#identifier", &app.user.username).await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("button.primary").await;
    let users = chrome.wait_for(Locator::Id("count-users")).await;
    assert_eq!(chrome.heading().await, "Admin console");
    assert_eq!(users.text().await.unwrap(), "2", "alice and bob");
    look(chrome, "dashboard").await;

    chrome.click("nav a[href='/admin/clients']").await;
    chrome.click("a[href='/admin/clients/new']").await;
    chrome.wait_for(Locator::Id("name")).await;
    chrome.type_into("#name", "Billing").await;
    chrome.type_into("#client_id", "billing").await;
    chrome.type_into("#redirect_uris", "https://billing.example/cb").await;
    look(chrome, "client_new").await;
    chrome.click("form[action='/admin/clients'] button.primary").await;
    let secret = chrome
        .wait_for(Locator::Id("client-secret"))
        .await
        .text()
        .await
        .unwrap();
    assert!(secret.len() >= 32, "a secret is shown: {secret:?}");
    chrome.wait_for_text("shown this once").await;
    look(chrome, "client_secret").await;
    chrome.click("a[href='/admin/clients/billing']").await;
    chrome.wait_for_text("Secret and deletion").await;
    assert!(!chrome.text().await.contains(&secret), "the secret is not shown again");
    look(chrome, "client").await;

    chrome.click("nav a[href='/admin/users']").await;
    chrome.type_into("#q", "bob").await;
    chrome.click("form.filters button").await;
    // The unfiltered list links to bob too: wait for the search's own page.
    chrome.wait_for_url(&app.url("/admin/users?q=bob")).await;
    chrome.click(&format!("a[href='/admin/users/{}']", bob.id)).await;
    chrome.wait_for(Locator::Id("disable-user")).await;
    look(chrome, "user").await;
    chrome.click("#disable-user").await;
    chrome.wait_for_text("Account disabled").await;
    assert_eq!(
        chrome.wait_for(Locator::Id("user-state")).await.text().await.unwrap(),
        "Disabled"
    );
    assert!(app
        .store
        .account_by_id(&bob.id)
        .await
        .unwrap()
        .unwrap()
        .disabled_at
        .is_some());

    chrome.click("nav a[href='/admin/audit']").await;
    chrome.wait_for(Locator::Id("audit-events")).await;
    let log = chrome.text().await;
    assert!(
        log.contains("Admin: user disabled") && log.contains("Admin: client created"),
        "{log}"
    );
    assert!(!log.contains(&secret));
    look(chrome, "audit").await;
}
