//! Passkeys: registered from /account/two-factor, used alone on the login page, used as the
//! second factor after a password, and removed. The journeys run in headless Chromium
//! (see `browser.rs` for its setup, `GATEHOUSE_REQUIRE_BROWSER` and where screenshots go)
//! with a virtual authenticator added through WebDriver's WebAuthn extension, so the
//! ceremonies are the browser's own: nothing of Gatehouse or webauthn-rs is mocked. The
//! server runs on `localhost` (browsers refuse an IP address as a relying-party id).
//!
//! Screenshots, at 390 px and 1280 px, in `target/screenshots/<test>/`: `two-factor-empty`,
//! `recovery-codes`, `two-factor-passkey` (one passkey listed), `login-passkey` (the
//! button), `second-factor` (the passkey step after a password).
//!
//! The error paths (an unreadable answer, a replayed ceremony, no passkeys on an IP
//! issuer) are plain HTTP on both backends.

use crate::browser::Chrome;
use crate::helpers::*;
use crate::on_both_backends;
use crate::on_both_backends_with;
use fantoccini::Locator;
use serde_json::{json, Value};
use std::time::Duration;

/// A guard against a hung browser, not a measurement.
const JOURNEY_LIMIT: Duration = Duration::from_secs(180);
const PASSKEY_NAME: &str = "Test laptop";

fn on_localhost(raw: &mut gatehouse::config::RawConfig) {
    raw.issuer = "http://localhost".into();
}

async fn localhost_app() -> TestApp {
    spawn_app_with(Backend::Sqlite, on_localhost).await.expect("sqlite app")
}

/// A tiny app: GET /cb answers a small page.
async fn start_app_site() -> String {
    use axum::response::Html;
    use axum::routing::get;
    let site = axum::Router::new().route(
        "/cb",
        get(|| async { Html("<!doctype html><title>Notes</title><h1>Notes</h1><p>Signed in, back at Notes.</p>") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind app site");
    let base = format!("http://{}", listener.local_addr().expect("app address"));
    tokio::spawn(async move { axum::serve(listener, site).await });
    base
}

/// This browser's session as `/session/whoami` tells it.
async fn whoami(chrome: &Chrome) -> Value {
    chrome
        .run("return fetch('/session/whoami', {credentials: 'same-origin'}).then(r => r.json());")
        .await
}

async fn sign_in_with_password(chrome: &Chrome, app: &TestApp, path: &str) {
    chrome.goto(&app.url(path)).await;
    chrome.type_into("#identifier", &app.user.username).await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("form[action='/login'] button[type=submit]").await;
}

async fn sign_out(chrome: &Chrome, app: &TestApp) {
    chrome.goto(&app.url("/logout")).await;
    chrome.click("form[action='/logout/confirm'] button[type=submit]").await;
    chrome.wait_for_text("You are signed out").await;
}

/// Waits until passkeys.js has shown the passkey form's button, and presses it.
async fn press_passkey_button(chrome: &Chrome, css: &str) {
    for _ in 0..100 {
        let element = chrome.wait_for(Locator::Css(css)).await;
        if element.is_displayed().await.unwrap_or(false) && element.is_enabled().await.unwrap_or(false) {
            element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never became usable; the page says:\n{}", chrome.text().await);
}

/// Signed in with the password (no factor yet), adds a passkey from /account/two-factor:
/// the first factor comes with ten recovery codes, and the passkey is listed after.
async fn add_passkey(chrome: &Chrome, app: &TestApp, authenticator: &str) {
    sign_in_with_password(chrome, app, "/login?return_to=/account/two-factor").await;
    chrome.wait_for_text("Two-factor and passkeys").await;
    chrome.wait_for_text("Passkeys").await;
    chrome.screenshots("two-factor-empty").await;
    chrome.type_into("#passkey-name", PASSKEY_NAME).await;
    press_passkey_button(chrome, "#add-passkey-button").await;

    chrome.wait_for_text("Save your recovery codes").await;
    let codes = chrome
        .client
        .find_all(Locator::Css("#recovery-codes li"))
        .await
        .expect("recovery codes");
    assert_eq!(codes.len(), 10, "ten recovery codes are shown");
    chrome.screenshots("recovery-codes").await;
    assert_eq!(
        chrome.virtual_credentials(authenticator).await.len(),
        1,
        "a passkey was made"
    );
    let credential = &chrome.virtual_credentials(authenticator).await[0];
    assert_eq!(
        credential["isResidentCredential"],
        json!(true),
        "discoverable: {credential}"
    );

    chrome.click("#recovery-continue").await;
    let page = chrome.wait_for_text(PASSKEY_NAME).await;
    assert!(page.contains("not used yet"), "{page}");
    chrome.screenshots("two-factor-passkey").await;
    let rows = app.store.passkeys(&app.user.id).await.expect("passkeys");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, PASSKEY_NAME);
    // Adding it proved it: the session now counts the passkey.
    assert_eq!(whoami(chrome).await["amr"], json!(["pwd", "hwk", "mfa"]));
}

/// On the login page, "Sign in with a passkey" alone signs in.
async fn sign_in_with_passkey(chrome: &Chrome, url: &str, screenshot: bool) {
    chrome.goto(url).await;
    chrome.wait_for_text("Sign in with a passkey").await;
    if screenshot {
        chrome.screenshots("login-passkey").await;
    }
    press_passkey_button(chrome, "#passkey-button").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_passkey_added_then_signs_in_alone_and_for_an_app() {
    const TEST: &str = "browser_passkey_added_then_signs_in_alone_and_for_an_app";
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = localhost_app().await;
    tokio::time::timeout(JOURNEY_LIMIT, passwordless_journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

async fn passwordless_journey(app: &TestApp, chrome: &Chrome) {
    let authenticator = chrome.add_virtual_authenticator().await;
    chrome.without_passkey_autofill().await;
    add_passkey(chrome, app, &authenticator).await;
    sign_out(chrome, app).await;

    // The login page's button: no username, no password.
    sign_in_with_passkey(chrome, &app.url("/login"), true).await;
    chrome.wait_for_heading("Your account").await;
    let me = whoami(chrome).await;
    assert_eq!(me["sub"], json!(app.user.id), "{me}");
    assert_eq!(me["amr"], json!(["hwk", "user", "mfa"]), "{me}");
    let rows = app.store.passkeys(&app.user.id).await.expect("passkeys");
    assert!(rows[0].last_used_at.is_some(), "the use is recorded");
    chrome.goto(&app.url("/account/two-factor")).await;
    chrome.wait_for_text("last used").await;

    // An app's sign-in, with the passkey: its ID token says how.
    sign_out(chrome, app).await;
    let site = start_app_site().await;
    let callback = format!("{site}/cb");
    let notes = add_client(&app.store, "notes", true, 0, |c| {
        c.name = "Notes".into();
        c.redirect_uris = vec![callback.clone()];
    })
    .await;
    let (authorize, verifier) = app.authorize_url(&notes, &[]);
    chrome.goto(&authorize).await;
    chrome.wait_for_text("Notes").await;
    let login = chrome.url().await;
    assert!(login.as_str().contains("request_id="), "{login}");
    sign_in_with_passkey(chrome, login.as_str(), false).await;
    let landed = chrome.wait_for_url(&callback).await;
    let code = query_param(landed.as_str(), "code").unwrap_or_else(|| panic!("no code in {landed}"));
    let response = app.redeem(&notes, &code, &verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: Value = response.json().await.expect("token JSON");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("ID token"));
    assert_eq!(claims["sub"], json!(app.user.id));
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]), "{claims}");

    // A real answer, sent twice: the first signs in, the replay is refused; and a real
    // answer whose user handle is changed to another user's is refused too.
    sign_out(chrome, app).await;
    chrome.goto(&app.url("/login")).await;
    chrome.wait_for_text("Sign in with a passkey").await;
    let outcome = chrome.run(REPLAY_SCRIPT).await;
    assert_eq!(
        outcome["first"],
        json!("opaqueredirect"),
        "the first answer signs in: {outcome}"
    );
    assert_eq!(outcome["replay"], json!(400), "{outcome}");
    assert!(
        outcome["replay_text"]
            .as_str()
            .unwrap_or_default()
            .contains("expired or was already used"),
        "{outcome}"
    );
    assert_eq!(outcome["other_user"], json!(401), "{outcome}");
}

/// Runs two passwordless ceremonies from the login page with the page's own CSRF token,
/// posting the answers with `fetch` (redirects not followed) instead of the form.
const REPLAY_SCRIPT: &str = r#"return (async () => {
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0));
const csrf = document.querySelector('#passkey-sign-in input[name=csrf_token]').value;
async function answer(userHandle) {
  const o = await fetch('/login/passkey/options', {method: 'POST', body: new URLSearchParams({csrf_token: csrf})})
    .then(r => r.json());
  const pk = Object.assign({}, o.options.publicKey, {challenge: bytes(o.options.publicKey.challenge), allowCredentials: []});
  const c = await navigator.credentials.get({publicKey: pk});
  const credential = {
    id: c.id, rawId: b64(c.rawId), type: c.type, extensions: {},
    response: {
      authenticatorData: b64(c.response.authenticatorData),
      clientDataJSON: b64(c.response.clientDataJSON),
      signature: b64(c.response.signature),
      userHandle: userHandle || b64(c.response.userHandle),
    },
  };
  return new URLSearchParams({csrf_token: csrf, challenge_id: o.challenge_id, credential: JSON.stringify(credential)});
}
const post = (body) => fetch('/login/passkey', {method: 'POST', body, redirect: 'manual'});
const body = await answer(null);
const first = await post(body);
const replay = await post(body);
const other = await post(await answer(b64(new Uint8Array(16).fill(9))));
return {first: first.type, replay: replay.status, replay_text: await replay.text(), other_user: other.status};
})();"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_passkey_as_second_factor_after_password() {
    const TEST: &str = "browser_passkey_as_second_factor_after_password";
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = localhost_app().await;
    tokio::time::timeout(JOURNEY_LIMIT, second_factor_journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

async fn second_factor_journey(app: &TestApp, chrome: &Chrome) {
    let authenticator = chrome.add_virtual_authenticator().await;
    chrome.without_passkey_autofill().await;
    add_passkey(chrome, app, &authenticator).await;
    sign_out(chrome, app).await;

    // The password is only the first factor now.
    sign_in_with_password(chrome, app, "/login").await;
    chrome.wait_for_url(&app.url("/login/second-factor")).await;
    chrome.wait_for_text("Use a passkey").await;
    assert_eq!(chrome.heading().await, "Confirm it's you");
    chrome.screenshots("second-factor").await;
    press_passkey_button(chrome, "#passkey-button").await;
    chrome.wait_for_heading("Your account").await;
    let me = whoami(chrome).await;
    assert_eq!(me["amr"], json!(["pwd", "hwk", "mfa"]), "{me}");
    let rows = app.store.passkeys(&app.user.id).await.expect("passkeys");
    assert!(rows[0].last_used_at.is_some(), "the use is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_passkey_removal_needs_a_fresh_sign_in_with_a_factor() {
    const TEST: &str = "browser_passkey_removal_needs_a_fresh_sign_in_with_a_factor";
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = localhost_app().await;
    tokio::time::timeout(JOURNEY_LIMIT, removal_journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

async fn removal_journey(app: &TestApp, chrome: &Chrome) {
    let authenticator = chrome.add_virtual_authenticator().await;
    add_passkey(chrome, app, &authenticator).await;

    // Sixteen minutes later the sign-in is stale: the button is off, and the server
    // refuses the form if it is sent anyway.
    app.clock.advance(16 * 60);
    chrome.goto(&app.url("/account/two-factor")).await;
    let remove = chrome.wait_for(Locator::Css(".remove-passkey")).await;
    assert!(!remove.is_enabled().await.expect("enabled"), "stale: Remove is off");
    chrome
        .run("document.querySelector(\"form[action='/account/two-factor/passkeys/remove']\").submit();")
        .await;
    let refused = chrome.wait_for_text("For your security").await;
    assert!(refused.contains("sign in again with your second factor"), "{refused}");
    assert_eq!(app.store.passkeys(&app.user.id).await.expect("passkeys").len(), 1);

    // A fresh sign-in with the passkey, this time from the username field's autofill
    // (which the virtual authenticator answers at once), may rename and remove it; the
    // owner is told of the removal by email.
    sign_out(chrome, app).await;
    chrome.goto(&app.url("/login?return_to=/account/two-factor")).await;
    chrome.wait_for_url(&app.url("/account/two-factor")).await;
    chrome.wait_for_text(PASSKEY_NAME).await;
    assert_eq!(whoami(chrome).await["amr"], json!(["hwk", "user", "mfa"]));
    chrome.click(".passkey-rename summary").await;
    let rename = chrome.wait_for(Locator::Css(".passkey-rename input[name=name]")).await;
    rename.clear().await.expect("clear the name");
    rename.send_keys("Old laptop").await.expect("type a name");
    chrome.click(".rename-passkey").await;
    chrome.wait_for_text("Passkey renamed.").await;
    assert_eq!(
        app.store.passkeys(&app.user.id).await.expect("passkeys")[0].name,
        "Old laptop"
    );
    chrome.click(".remove-passkey").await;
    let page = chrome.wait_for_text("Passkey removed.").await;
    assert!(!page.contains("Old laptop"), "{page}");
    assert!(app.store.passkeys(&app.user.id).await.expect("passkeys").is_empty());
    let mail = app.mail.wait_for(&app.user.email, "A second factor was removed").await;
    assert!(mail.text.contains("a passkey"), "{}", mail.text);
}

// HTTP-level error paths, no browser.

/// The login page's anonymous CSRF token, with the cookie it is bound to in `browser`.
async fn login_csrf(browser: &Browser) -> String {
    let html = browser.get("/login").await.text().await.expect("login page");
    hidden_input(&html, "csrf_token").expect("csrf_token")
}

async fn sign_in_options(app: &TestApp, browser: &Browser, csrf: &str) -> Value {
    let response = browser
        .http
        .post(app.url("/login/passkey/options"))
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .expect("options");
    assert_eq!(response.status(), 200, "options");
    response.json().await.expect("options JSON")
}

async fn post_sign_in(app: &TestApp, browser: &Browser, form: &[(&str, &str)]) -> (u16, String) {
    let response = browser
        .http
        .post(app.url("/login/passkey"))
        .form(form)
        .send()
        .await
        .expect("finish");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// A well-formed assertion that no authenticator made: right shape, wrong everything.
fn forged_assertion() -> String {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let client_data = json!({"type": "webauthn.get", "challenge": b64(b"nope"), "origin": "http://localhost"});
    json!({
        "id": b64(&[7u8; 16]),
        "rawId": b64(&[7u8; 16]),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0u8; 37]),
            "clientDataJSON": b64(client_data.to_string().as_bytes()),
            "signature": b64(&[1u8; 64]),
            "userHandle": b64(&[2u8; 16]),
        },
        "extensions": {},
    })
    .to_string()
}

on_both_backends_with! { on_localhost;
    async fn passkey_sign_in_refuses_an_unreadable_answer(app) {
        let browser = app.browser();
        let csrf = login_csrf(&browser).await;
        let options = sign_in_options(&app, &browser, &csrf).await;
        let challenge_id = options["challenge_id"].as_str().expect("challenge_id");
        assert_eq!(options["options"]["publicKey"]["rpId"], json!("localhost"), "{options}");
        assert_eq!(options["options"]["publicKey"]["userVerification"], json!("required"), "{options}");
        for garbage in ["not json", "{}", "{\"id\": 5}", "[]"] {
            let (status, body) = post_sign_in(
                &app,
                &browser,
                &[("csrf_token", &csrf), ("challenge_id", challenge_id), ("credential", garbage)],
            )
            .await;
            assert_eq!(status, 400, "{garbage}: {body}");
            assert!(body.contains("could not be read"), "{body}");
        }
        // Nothing at all, and an unknown ceremony.
        let (status, _) = post_sign_in(&app, &browser, &[("csrf_token", &csrf)]).await;
        assert_eq!(status, 400);
        let forged = forged_assertion();
        let (status, body) = post_sign_in(
            &app,
            &browser,
            &[("csrf_token", &csrf), ("challenge_id", "unknown"), ("credential", &forged)],
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("expired or was already used"), "{body}");
        // Without the CSRF token: refused before anything is read.
        let (status, _) = post_sign_in(&app, &browser, &[("challenge_id", challenge_id), ("credential", &forged)]).await;
        assert_eq!(status, 403);
    }

    async fn passkey_ceremony_is_single_use(app) {
        let browser = app.browser();
        let csrf = login_csrf(&browser).await;
        let options = sign_in_options(&app, &browser, &csrf).await;
        let challenge_id = options["challenge_id"].as_str().expect("challenge_id");
        let forged = forged_assertion();
        let form = [("csrf_token", csrf.as_str()), ("challenge_id", challenge_id), ("credential", forged.as_str())];
        // The first answer is checked (and fails: no such passkey)...
        let (status, body) = post_sign_in(&app, &browser, &form).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("could not be verified"), "{body}");
        // ...and spends the ceremony: the same answer again is not even checked.
        let (status, body) = post_sign_in(&app, &browser, &form).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("expired or was already used"), "{body}");
        // An expired ceremony is as good as used.
        let options = sign_in_options(&app, &browser, &csrf).await;
        let challenge_id = options["challenge_id"].as_str().expect("challenge_id");
        app.clock.advance(10 * 60);
        let (status, body) = post_sign_in(
            &app,
            &browser,
            &[("csrf_token", &csrf), ("challenge_id", challenge_id), ("credential", &forged)],
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("expired or was already used"), "{body}");
    }

    async fn passkey_json_endpoints_refuse_without_a_sign_in(app) {
        let browser = app.browser();
        let csrf = login_csrf(&browser).await;
        // No pending sign-in: no second-factor ceremony.
        let response = browser
            .http
            .post(app.url("/login/second-factor/passkey/options"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("options");
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("JSON error");
        assert_eq!(body["error"], json!("passkey_refused"), "{body}");
        // Not signed in: no registration.
        let response = browser
            .http
            .post(app.url("/account/two-factor/passkeys/options"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("options");
        assert_eq!(response.status(), 401);
        // Signed in, but with another form's token: refused.
        let signed_in = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let response = signed_in
            .http
            .post(app.url("/account/two-factor/passkeys/options"))
            .form(&[("csrf_token", "wrong")])
            .send()
            .await
            .expect("options");
        assert_eq!(response.status(), 403);
        // And a registration answer that is garbage is a 400 page, not a 500.
        let html = signed_in.get("/account/two-factor").await.text().await.expect("page");
        assert!(html.contains("Add a passkey"), "the page offers passkeys on localhost");
        let token = hidden_input(&html, "csrf_token").expect("csrf_token");
        let response = signed_in
            .http
            .post(app.url("/account/two-factor/passkeys"))
            .form(&[("csrf_token", token.as_str()), ("challenge_id", "x"), ("credential", "{")])
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 400);
    }
}

on_both_backends! {
    async fn passkey_routes_are_not_found_on_an_ip_issuer(app) {
        assert!(app.base.starts_with("http://127.0.0.1:"), "{}", app.base);
        let browser = app.browser();
        let login = browser.get("/login").await.text().await.expect("login page");
        assert!(!login.contains("passkey"), "no passkey UI: {login}");
        let csrf = hidden_input(&login, "csrf_token").expect("csrf_token");
        for path in [
            "/login/passkey/options",
            "/login/passkey",
            "/login/second-factor/passkey/options",
            "/login/second-factor/passkey",
            "/account/two-factor/passkeys/options",
            "/account/two-factor/passkeys",
            "/account/two-factor/passkeys/remove",
            "/account/two-factor/passkeys/rename",
        ] {
            let response = browser
                .http
                .post(app.url(path))
                .form(&[("csrf_token", csrf.as_str())])
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status(), 404, "{path}");
            let body = response.text().await.unwrap_or_default();
            assert!(body.contains("Passkeys are not available here"), "{path}: {body}");
        }
        assert_eq!(browser.get("/assets/passkeys.js").await.status(), 404);
        let signed_in = signed_in_browser(&app, &app.user.username, PASSWORD).await;
        let page = signed_in.get("/account/two-factor").await.text().await.expect("page");
        assert!(!page.contains("passkeys.js"), "no passkey UI on the account page");
    }
}
