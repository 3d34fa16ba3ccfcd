//! Real-browser tests: headless Chromium driven through WebDriver (chromedriver), so the
//! hosted pages are exercised as a user sees them, with real cookies, real form posts and
//! real redirects, and screenshots of each page at phone and desktop widths are left in
//! `target/screenshots/<test>/` for people to look at.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`. Without them the test says
//! so loudly and passes, unless `CI=true` or `GATEHOUSE_REQUIRE_BROWSER=1`, where that is
//! a failure.

use crate::helpers::*;
use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);
/// How often, and how far apart, a page is looked at before giving up on it.
const POLL_TRIES: u32 = 100;
const POLL_EVERY: Duration = Duration::from_millis(100);
/// A guard against a hung browser, not a measurement: the journey takes a few seconds.
const JOURNEY_LIMIT: Duration = Duration::from_secs(120);

const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn find_program(preferred: &str, name: &str) -> Option<PathBuf> {
    let preferred = Path::new(preferred);
    if preferred.is_file() {
        Some(preferred.to_path_buf())
    } else {
        find_on_path(name)
    }
}

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var("GATEHOUSE_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// A free loopback port (bound, read, released; chromedriver binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A minimal blocking HTTP/1.1 request to chromedriver (usable from `Drop`, which cannot
/// await); returns the response's status line and headers. chromedriver answers only once
/// it has done what was asked, and keeps the connection open, so the body is not read.
fn raw_http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Headless Chromium under chromedriver, both ended when this is dropped (also when the
/// test panics): the WebDriver session is deleted, which quits Chromium, then
/// chromedriver's whole process group is killed in case anything was left behind.
pub struct Chrome {
    pub client: Client,
    test: String,
    driver: Child,
    port: u16,
    session: Option<String>,
    // Dropped after `drop` has stopped the browser that writes into it.
    _profile: TempDir,
}

impl Chrome {
    /// Starts the browser for `test` (the name screenshots are filed under). None, after
    /// saying so loudly, when chromedriver or Chromium is not installed and the browser
    /// is not required.
    pub async fn start(test: &str) -> Option<Chrome> {
        let driver_bin = find_program(CHROMEDRIVER, "chromedriver");
        let chromium_bin = find_program(CHROMIUM, "chromium");
        let (Some(driver_bin), Some(chromium_bin)) = (driver_bin.clone(), chromium_bin.clone()) else {
            let missing = [(driver_bin.is_none(), CHROMEDRIVER), (chromium_bin.is_none(), CHROMIUM)]
                .iter()
                .filter(|(gone, _)| *gone)
                .map(|(_, path)| *path)
                .collect::<Vec<_>>()
                .join(" and ");
            if browser_required() {
                panic!(
                    "a real browser is required (CI=true or GATEHOUSE_REQUIRE_BROWSER=1) but {missing} is missing \
                     (nor on PATH): apt-get install -y chromium chromium-driver"
                );
            }
            // Straight to stderr, not eprintln!, so the test harness does not swallow it.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: chromium-driver not installed ***\n\
                 *** {test} needs {missing}: apt-get install -y chromium chromium-driver ***\n"
            );
            return None;
        };

        let profile = tempfile::tempdir().expect("browser profile dir");
        let log_path = profile.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("chromedriver log");
        let port = free_port();
        let mut command = Command::new(&driver_bin);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        // Its own process group, so Drop can end chromedriver and everything it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
        let user_data_dir = profile.path().join("profile");
        let mut starting = ChromeStarting {
            driver: Some(driver),
            port,
        };

        let driver_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let mut ready = false;
        for _ in 0..POLL_TRIES {
            if let Some(status) = starting.driver_mut().try_wait().expect("chromedriver status") {
                panic!("chromedriver exited early ({status}):\n{}", driver_log());
            }
            if raw_http(port, "GET", "/status").is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
                ready = true;
                break;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        assert!(ready, "chromedriver never answered on port {port}:\n{}", driver_log());

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", user_data_dir.display()));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium_bin.display().to_string(),
                "args": args,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}\n{}", driver_log()));
        let session = client.session_id().await.ok().flatten();

        let screenshots = screenshot_dir(test);
        let _ = std::fs::remove_dir_all(&screenshots);
        Some(Chrome {
            client,
            test: test.to_string(),
            driver: starting.driver.take().expect("driver"),
            port,
            session,
            _profile: profile,
        })
    }

    /// Ends the session (quits Chromium) the polite way; Drop does the rest.
    pub async fn quit(mut self) {
        let client = self.client.clone();
        if client.close().await.is_ok() {
            self.session = None;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current URL")
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn heading(&self) -> String {
        let h1 = self.wait_for(Locator::Css("h1")).await;
        h1.text().await.expect("heading text")
    }

    /// Waits (a bounded number of looks) until the page's `h1` is `expected`: a page that
    /// merely mentions the words (the second-factor page says "Your account has
    /// two-factor sign-in") does not count.
    pub async fn wait_for_heading(&self, expected: &str) {
        let mut seen = String::new();
        for _ in 0..POLL_TRIES {
            if let Ok(h1) = self.client.find(Locator::Css("h1")).await {
                seen = h1.text().await.unwrap_or_default();
                if seen == expected {
                    return;
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!(
            "the heading {expected:?} never appeared on {}; it was {seen:?}",
            self.url().await
        );
    }

    /// Waits (a bounded number of looks) for an element to appear.
    pub async fn wait_for(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        for _ in 0..POLL_TRIES {
            if let Ok(element) = self.client.find(locator).await {
                return element;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!(
            "no {locator:?} on {} after {POLL_TRIES} looks; the page says:\n{}",
            self.url().await,
            self.text().await
        );
    }

    /// Waits (a bounded number of looks) until the page's text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..POLL_TRIES {
            text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!(
            "{:?} never appeared on {}; the page says:\n{text}",
            needle,
            self.url().await
        );
    }

    /// Waits (a bounded number of looks) until the browser is at a URL starting with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) -> url::Url {
        let mut url = self.url().await;
        for _ in 0..POLL_TRIES {
            if url.as_str().starts_with(prefix) {
                return url;
            }
            tokio::time::sleep(POLL_EVERY).await;
            url = self.url().await;
        }
        panic!(
            "the browser never reached {prefix}; it is at {url}:\n{}",
            self.text().await
        );
    }

    pub async fn click(&self, css: &str) {
        let element = self.wait_for(Locator::Css(css)).await;
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_for(Locator::Css(css)).await;
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The page's viewport, in CSS pixels.
    async fn viewport(&self) -> Option<(i64, i64)> {
        let size = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .ok()?;
        Some((size.get(0)?.as_i64()?, size.get(1)?.as_i64()?))
    }

    /// Sizes the window so the page's viewport is `width` x `height` (headless Chromium's
    /// window is taller than its viewport by a toolbar it does not draw).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let wanted = (i64::from(width), i64::from(height));
        let resize = |w: i64, h: i64| async move {
            let (w, h) = (u32::try_from(w).unwrap_or(width), u32::try_from(h).unwrap_or(height));
            self.client
                .set_window_size(w, h)
                .await
                .unwrap_or_else(|e| panic!("resize the window to {w}x{h}: {e}"));
        };
        resize(wanted.0, wanted.1).await;
        let mut seen = None;
        for attempt in 0..POLL_TRIES {
            seen = self.viewport().await;
            match seen {
                Some(now) if now == wanted => return,
                // Once: grow the window by what the viewport lacks.
                Some((w, h)) if attempt == 0 => resize(2 * wanted.0 - w, 2 * wanted.1 - h).await,
                _ => tokio::time::sleep(POLL_EVERY).await,
            }
        }
        eprintln!("warning: wanted a {width}x{height} viewport for screenshots, got {seen:?}");
    }

    /// Saves the current page as `<page>-phone.png` (390x844) and `<page>-desktop.png`
    /// (1280x900) under `target/screenshots/<test>/`, and leaves the page at desktop size.
    pub async fn screenshots(&self, page: &str) {
        let dir = screenshot_dir(&self.test);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        for (label, (width, height)) in [("phone", PHONE), ("desktop", DESKTOP)] {
            self.set_viewport(width, height).await;
            let png = self.client.screenshot().await.expect("screenshot");
            assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
            let path = dir.join(format!("{page}-{label}.png"));
            std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = raw_http(self.port, "DELETE", &format!("/session/{session}"));
        }
        stop_driver(&mut self.driver);
    }
}

/// Owns chromedriver while the session is being set up, so a panic there stops it too.
struct ChromeStarting {
    driver: Option<Child>,
    port: u16,
}

impl ChromeStarting {
    fn driver_mut(&mut self) -> &mut Child {
        self.driver.as_mut().expect("driver")
    }
}

impl Drop for ChromeStarting {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            // A session may have been half made: ask chromedriver to end them all by
            // shutting it down, then make sure of it.
            let _ = raw_http(self.port, "GET", "/shutdown");
            stop_driver(&mut driver);
        }
    }
}

/// Kills chromedriver's process group (chromedriver and any Chromium it started), then
/// reaps chromedriver.
fn stop_driver(driver: &mut Child) {
    if let Ok(None) = driver.try_wait() {
        let group = format!("-{}", driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = driver.kill();
    }
    let _ = driver.wait();
}

pub fn screenshot_dir(test: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
        .join(test)
}

/// A tiny relying party: answers GET /cb (and /signed-out) with a small HTML page.
pub(crate) async fn start_partner_site() -> String {
    use axum::response::Html;
    use axum::routing::get;
    let site = axum::Router::new()
        .route(
            "/cb",
            get(|| async {
                Html("<!doctype html><title>Partner App</title><h1>Partner App</h1><p>Signed in, back at Partner App.</p>")
            }),
        )
        .route(
            "/signed-out",
            get(|| async { Html("<!doctype html><title>Partner App</title><h1>Signed out of Partner App</h1>") }),
        )
        // Wider than the consent page's logo box, to show it is kept inside it.
        .route(
            "/logo.svg",
            get(|| async {
                let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="200"><rect width="600" height="200" rx="40" fill="#1f6feb"/></svg>"##;
                ([("content-type", "image/svg+xml")], svg)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind partner site");
    let base = format!("http://{}", listener.local_addr().expect("partner address"));
    tokio::spawn(async move { axum::serve(listener, site).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_consent_and_sign_out_journey() {
    const TEST: &str = "browser_sign_in_consent_and_sign_out_journey";
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
    let partner_site = start_partner_site().await;
    let callback = format!("{partner_site}/cb");
    let partner = add_client(&app.store, "partner", true, 0, |c| {
        c.name = "Partner App".into();
        c.redirect_uris = vec![callback.clone()];
        c.first_party = false;
        c.post_logout_redirect_uris = vec![format!("{partner_site}/signed-out")];
        c.logo_uri = Some(format!("{partner_site}/logo.svg"));
        c.policy_uri = Some(format!("{partner_site}/privacy"));
        c.tos_uri = Some(format!("{partner_site}/terms"));
    })
    .await;

    // The app sends the user to Gatehouse, which asks them to sign in.
    let (authorize, verifier) = app.authorize_url(&partner, &[]);
    chrome.goto(&authorize).await;
    chrome.wait_for(Locator::Id("identifier")).await;
    assert_eq!(chrome.heading().await, "Sign in");
    chrome.wait_for_text("Partner App").await;
    chrome.screenshots("login").await;

    chrome.type_into("#identifier", &app.user.username).await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.click("form[action='/login'] button[type=submit]").await;

    // A third-party app: Gatehouse asks before it shares anything.
    chrome
        .wait_for(Locator::Css("button[name=decision][value=allow]"))
        .await;
    chrome.wait_for(Locator::Css("button[name=decision][value=deny]")).await;
    let heading = chrome.heading().await;
    assert!(heading.contains("Allow Partner App?"), "consent heading: {heading}");
    let consent = chrome.text().await;
    assert!(consent.contains("Signed in as alice"), "{consent}");
    assert!(consent.contains("127.0.0.1"), "the redirect host is named: {consent}");
    chrome.wait_for(Locator::LinkText("Privacy policy")).await;
    chrome.wait_for(Locator::LinkText("Terms of service")).await;
    chrome.screenshots("consent").await;
    // The logo loaded (the page's policy lets in its origin) and stays in its box, and
    // nothing overflows on a phone.
    for (width, height) in [PHONE, DESKTOP] {
        chrome.set_viewport(width, height).await;
        let js = "const i = document.querySelector('img.client-logo'); const r = i.getBoundingClientRect(); \
                  return [i.naturalWidth, r.width, r.height, document.documentElement.scrollWidth, window.innerWidth];";
        let seen: Vec<i64> = serde_json::from_value(chrome.client.execute(js, vec![]).await.expect("measure the logo"))
            .map(|v: Vec<f64>| v.into_iter().map(|x| x.round() as i64).collect())
            .expect("numbers");
        assert_eq!(seen[0], 600, "the logo loaded at {width}px: {seen:?}");
        assert!(
            seen[1] <= 192 && seen[2] <= 64 && seen[1] > 0,
            "the logo is bounded at {width}px: {seen:?}"
        );
        assert!(seen[3] <= seen[4], "no sideways scrolling at {width}px: {seen:?}");
    }
    chrome.click("button[name=decision][value=allow]").await;

    // Back at the app with a code, which the app can redeem.
    let landed = chrome.wait_for_url(&callback).await;
    chrome.wait_for_text("Signed in, back at Partner App.").await;
    let code = query_param(landed.as_str(), "code").unwrap_or_else(|| panic!("no code in {landed}"));
    assert_eq!(
        query_param(landed.as_str(), "state").as_deref(),
        Some("st4te"),
        "{landed}"
    );
    assert!(query_param(landed.as_str(), "error").is_none(), "{landed}");
    let response = app.redeem(&partner, &code, &verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: serde_json::Value = response.json().await.expect("token JSON");
    assert!(tokens["id_token"].is_string(), "{tokens}");

    // Gatehouse's own home page knows who is signed in.
    chrome.goto(&app.url("/")).await;
    assert_eq!(chrome.heading().await, "Hello, Alice");
    chrome.screenshots("home-signed-in").await;

    // Sign out: Gatehouse asks first, then confirms.
    chrome.goto(&app.url("/logout")).await;
    chrome.wait_for_text("Sign out?").await;
    assert!(chrome.text().await.contains("You are signed in as alice"));
    chrome.screenshots("logout").await;
    chrome.click("form[action='/logout/confirm'] button[type=submit]").await;
    chrome.wait_for_text("You are signed out").await;
    assert_eq!(chrome.heading().await, "You are signed out");
    chrome.screenshots("signed-out").await;

    // Signed out for real: the app's next sign-in shows the login page again.
    let (authorize, _) = app.authorize_url(&partner, &[]);
    chrome.goto(&authorize).await;
    chrome.wait_for(Locator::Id("password")).await;
    assert_eq!(chrome.heading().await, "Sign in");

    // The other pages a user can meet.
    chrome.goto(&app.url("/")).await;
    chrome.wait_for_text("You are not signed in").await;
    chrome.screenshots("home").await;

    // A request Gatehouse cannot trust is answered with its own error page, not a redirect.
    chrome.goto(&app.url("/authorize?client_id=nope")).await;
    let error = chrome.heading().await;
    assert!(!error.is_empty(), "the error page has a heading");
    chrome.wait_for_text("go back to it and try signing in again").await;
    assert!(chrome.url().await.as_str().starts_with(&app.base), "stays on Gatehouse");
    chrome.screenshots("error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signup_reset_profile_and_delete_journey() {
    const TEST: &str = "browser_signup_reset_profile_and_delete_journey";
    let Some(chrome) = Chrome::start(TEST).await else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    tokio::time::timeout(JOURNEY_LIMIT, account_journey(&app, &chrome))
        .await
        .expect("the browser journey hung");
    chrome.quit().await;
}

async fn account_journey(app: &TestApp, chrome: &Chrome) {
    const FIRST: &str = "quiet lantern orbit meadow";
    const SECOND: &str = "brisk harbor violet anthem";
    let partner_site = start_partner_site().await;
    let callback = format!("{partner_site}/cb");
    let shop = add_client(&app.store, "shop", true, 0, |c| {
        c.name = "Corner Shop".into();
        c.redirect_uris = vec![callback.clone()];
    })
    .await;

    // The app sends a new user to Gatehouse; they choose to create an account.
    let (authorize, verifier) = app.authorize_url(&shop, &[]);
    chrome.goto(&authorize).await;
    chrome.wait_for(Locator::Id("identifier")).await;
    chrome.click("a[href^='/signup']").await;
    chrome.wait_for(Locator::Id("given_name")).await;
    assert_eq!(chrome.heading().await, "Create your account");
    chrome.screenshots("signup").await;
    for (field, value) in [
        ("#given_name", "Dana"),
        ("#family_name", "Scully"),
        ("#username", "dana"),
        ("#email", "dana@example.com"),
        ("#password", FIRST),
        ("#password_confirm", FIRST),
    ] {
        chrome.type_into(field, value).await;
    }
    chrome.click("form[action='/signup'] button[type=submit]").await;
    chrome.wait_for_text("Check your email").await;
    chrome.screenshots("check-email").await;

    // The confirmation arrives by SMTP; its link brings the user back to the app.
    let link = app.mail.wait_for("dana@example.com", "Confirm your email").await.link();
    chrome.goto(&link).await;
    chrome.wait_for_text("Confirm and continue").await;
    chrome.screenshots("confirm").await;
    chrome.click("form[action='/signup/confirm'] button[type=submit]").await;
    let landed = chrome.wait_for_url(&callback).await;
    let code = query_param(landed.as_str(), "code").unwrap_or_else(|| panic!("no code in {landed}"));
    assert_eq!(app.redeem(&shop, &code, &verifier).await.status(), 200);

    // Forgotten password: request a link, follow it, choose a new password.
    chrome.goto(&app.url("/logout")).await;
    chrome.click("form[action='/logout/confirm'] button[type=submit]").await;
    chrome.wait_for_text("You are signed out").await;
    chrome.goto(&app.url("/forgot")).await;
    chrome.wait_for(Locator::Id("identifier")).await;
    chrome.screenshots("forgot").await;
    chrome.type_into("#identifier", "dana@example.com").await;
    chrome.click("form[action='/forgot'] button[type=submit]").await;
    chrome.wait_for_text("Check your email").await;
    let link = app.mail.wait_for("dana@example.com", "Reset your").await.link();
    chrome.goto(&link).await;
    chrome.wait_for(Locator::Id("password_confirm")).await;
    assert!(
        !chrome.url().await.as_str().contains("token="),
        "the token left the address bar"
    );
    chrome.screenshots("reset").await;
    chrome.type_into("#password", SECOND).await;
    chrome.type_into("#password_confirm", SECOND).await;
    chrome.click("form[action='/reset'] button[type=submit]").await;
    chrome.wait_for_text("Password changed").await;

    // Sign in with the new password and edit the profile.
    chrome.goto(&app.url("/login?return_to=/account")).await;
    chrome.type_into("#identifier", "dana").await;
    chrome.type_into("#password", SECOND).await;
    chrome.click("form[action='/login'] button[type=submit]").await;
    chrome.wait_for_heading("Your account").await;
    chrome.screenshots("account").await;
    chrome.type_into("#given_name", " K.").await;
    chrome
        .click("form[action='/account/profile'] button[type=submit]")
        .await;
    chrome.wait_for_text("Profile saved.").await;

    // Address and phone, the street on two lines.
    chrome.type_into("#phone_number", "+44 20 7946 0958").await;
    chrome.type_into("#street_address", "221B Baker Street\nFlat 2").await;
    chrome.type_into("#locality", "London").await;
    chrome.type_into("#postal_code", "NW1 6XE").await;
    chrome.type_into("#country", "United Kingdom").await;
    chrome
        .click("form[action='/account/contact'] button[type=submit]")
        .await;
    chrome.wait_for_text("Address and phone saved.").await;
    chrome.screenshots("account-address").await;
    let dana = app.store.account_by_identifier("dana").await.unwrap().unwrap();
    assert_eq!(dana.contact.street_address, "221B Baker Street\nFlat 2");
    assert_eq!(dana.contact.phone_number, "+44 20 7946 0958");

    // Delete the account: it asks for the password again, then it is gone.
    chrome.type_into("#delete_password", SECOND).await;
    chrome.click("form[action='/account/delete'] button[type=submit]").await;
    chrome.wait_for_text("Account deleted").await;
    chrome.screenshots("deleted").await;
    app.mail.wait_for("dana@example.com", "was deleted").await;
    assert!(app.store.account_by_identifier("dana").await.unwrap().is_none());
}
