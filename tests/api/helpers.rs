//! The harness: a real Gatehouse on an ephemeral port with its own temp data dir and
//! database (a SQLite file, or a fresh PostgreSQL database created for the test and
//! dropped after), plus a cookie-keeping "browser" and helpers that drive a sign-in.

use gatehouse::clients::Client;
use gatehouse::config::{HashingSettings, RawConfig};
use gatehouse::store::accounts::NewAccount;
use gatehouse::store::Store;
use gatehouse::{App, Clock, Config};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::redirect::Policy;
use std::sync::Arc;
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";
pub const CONFIDENTIAL_REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PUBLIC_REDIRECT: &str = "http://localhost:9/spa/callback";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub struct TestUser {
    pub id: String,
    pub username: String,
    pub email: String,
}

pub struct TestApp {
    pub base: String,
    pub clock: Clock,
    pub store: Store,
    /// The running server's state, for driving its background work (`janitor::sweep`).
    pub state: gatehouse::AppState,
    pub client: TestClient,
    pub other_client: TestClient,
    pub public_client: TestClient,
    pub user: TestUser,
    pub dir: TempDir,
    /// Every email Gatehouse sends in this test arrives here, over SMTP.
    pub mail: crate::smtp::SmtpSink,
    _db: Option<PgDatabase>,
}

/// Starts a Gatehouse for one test. Returns None (after saying so loudly) when the
/// PostgreSQL backend is asked for but GATEHOUSE_TEST_POSTGRES_URL is unset, unless
/// GATEHOUSE_REQUIRE_POSTGRES=1, in which case that is a failure.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut RawConfig)) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, db) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/gatehouse.db", dir.path().display()), None),
        Backend::Postgres => {
            let db = PgDatabase::create().await?;
            (db.url.clone(), Some(db))
        }
    };
    let mail = crate::smtp::SmtpSink::start().await;
    let mut raw = RawConfig {
        listen: "127.0.0.1:0".into(),
        database_url,
        keys_dir: dir.path().join("keys"),
        // Lighter than production so the suite stays quick; the algorithm is the same.
        password_hashing: HashingSettings {
            memory_kib: 8192,
            iterations: 1,
            max_concurrent: 0,
        },
        mail: gatehouse::config::MailSettings {
            smtp_url: Some(mail.url().into()),
            ..Default::default()
        },
        // Every test's relying party listens on loopback; `outbound` tests turn it off.
        outbound: gatehouse::config::OutboundSettings {
            allow_private_networks: true,
            ..Default::default()
        },
        ..RawConfig::default()
    };
    adjust(&mut raw);
    // An issuer of exactly "http://localhost" means: this server on localhost, with the
    // bound port filled in (another cookie host than 127.0.0.1, for a second Gatehouse).
    let on_localhost = raw.issuer == "http://localhost";
    let custom_issuer = raw.issuer != RawConfig::default().issuer && !on_localhost;
    // With TLS the issuer must be https; the port is filled in below.
    let scheme = if raw.tls.cert_file.is_some() { "https" } else { "http" };
    if !custom_issuer {
        raw.issuer = format!("{scheme}://127.0.0.1");
    }
    let mut config = Config::from_raw(raw).expect("test config");
    // The issuer must name the port we get, so bind first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    config.listen = listener.local_addr().expect("addr");
    if on_localhost {
        config.issuer = format!("http://localhost:{port}").parse().expect("issuer");
    } else if !custom_issuer {
        config.issuer = format!("{scheme}://127.0.0.1:{port}").parse().expect("issuer");
    }
    let clock = Clock::system();
    let app = App::build_on(listener, config, clock.clone())
        .await
        .expect("app starts");
    let store = app.state().store.clone();
    mail.watch_outbox(store.clone());
    let state = app.state().clone();
    let base = match on_localhost {
        true => format!("http://localhost:{port}"),
        false => format!("{scheme}://{}", app.local_addr().expect("addr")),
    };
    tokio::spawn(app.serve());

    let now = clock.now();
    let client = register(&store, "client", "Test App", Some(CONFIDENTIAL_REDIRECT), now).await;
    let other_client = register(&store, "client2", "Other App", Some(CONFIDENTIAL_REDIRECT), now).await;
    let public_client = register(&store, "spa", "Single Page App", None, now).await;
    let user = create_user(&store, "alice", "alice@example.com", now).await;
    Some(TestApp {
        base,
        clock,
        store,
        state,
        client,
        other_client,
        public_client,
        user,
        dir,
        mail,
        _db: db,
    })
}

async fn register(store: &Store, id: &str, name: &str, confidential_redirect: Option<&str>, now: i64) -> TestClient {
    let redirect_uri = confidential_redirect.unwrap_or(PUBLIC_REDIRECT).to_string();
    add_client(store, id, confidential_redirect.is_some(), now, |c| {
        c.name = name.into();
        c.redirect_uris = vec![redirect_uri.clone()];
    })
    .await
}

/// Registers a client with the CLI's defaults, adjusted by `adjust`.
pub async fn add_client(
    store: &Store,
    id: &str,
    confidential: bool,
    now: i64,
    adjust: impl FnOnce(&mut Client),
) -> TestClient {
    let secret = confidential.then(gatehouse::clients::generate_secret);
    let mut client = Client::new(id, id, secret.as_deref().map(gatehouse::secrets::digest));
    client.created_at = now;
    adjust(&mut client);
    store.create_client(&client).await.expect("client");
    TestClient {
        id: id.into(),
        secret,
        redirect_uri: client.redirect_uris.first().cloned().unwrap_or_default(),
    }
}

pub async fn create_user(store: &Store, username: &str, email: &str, now: i64) -> TestUser {
    let hasher = gatehouse::password::PasswordHasherPool::new(&HashingSettings {
        memory_kib: 8192,
        iterations: 1,
        max_concurrent: 0,
    })
    .expect("hasher");
    let hash = hasher.hash(PASSWORD).await.expect("hash");
    let id = gatehouse::secrets::random_id();
    store
        .create_account(
            &NewAccount {
                id: &id,
                username,
                email,
                email_verified: true,
                given_name: "Alice",
                family_name: "Liddell",
                password_hash: &hash,
            },
            now,
        )
        .await
        .expect("user");
    TestUser {
        id,
        username: username.into(),
        email: email.into(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// An authorize URL for `client` with S256 PKCE; returns it and the verifier.
    pub fn authorize_url(&self, client: &TestClient, extra: &[(&str, &str)]) -> (String, String) {
        let verifier = gatehouse::secrets::random_token();
        let challenge = pkce_challenge(&verifier);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("scope", "openid email profile"),
            ("state", "st4te"),
            ("nonce", "n0nce"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            if !v.is_empty() {
                params.push((k, v));
            }
        }
        let query = serde_urlencoded::to_string(&params).expect("query");
        (format!("{}/authorize?{query}", self.base), verifier)
    }

    /// Signs in as the test user and returns a fresh code for `client` and its verifier.
    pub async fn code_for(&self, client: &TestClient) -> (String, String) {
        self.code_with(client, &[]).await
    }

    /// As `code_for`, with extra or changed authorization parameters.
    pub async fn code_with(&self, client: &TestClient, extra: &[(&str, &str)]) -> (String, String) {
        let (url, verifier) = self.authorize_url(client, extra);
        let browser = self.browser();
        let location = browser.sign_in(&url, &self.user.username, PASSWORD).await;
        (query_param(&location, "code").expect("code in redirect"), verifier)
    }

    /// POSTs a form to /token as `client` (client_secret_basic when it has a secret).
    pub async fn token_request(&self, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
        self.token_request_to("/token", client, form).await
    }

    /// POSTs a form to `path` as `client`: Basic auth with a secret, else its client_id.
    pub async fn token_request_to(&self, path: &str, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
        let http = reqwest::Client::new();
        let request = match &client.secret {
            Some(secret) => http
                .post(self.url(path))
                .form(form)
                .basic_auth(&client.id, Some(secret)),
            None => {
                let mut with_id = form.to_vec();
                with_id.push(("client_id", &client.id));
                http.post(self.url(path)).form(&with_id)
            }
        };
        request.send().await.expect("token request")
    }

    /// Signs in and redeems the code: the token response as JSON.
    pub async fn tokens_with(&self, client: &TestClient, extra: &[(&str, &str)]) -> serde_json::Value {
        let (code, verifier) = self.code_with(client, extra).await;
        let response = self.redeem(client, &code, &verifier).await;
        assert_eq!(response.status(), 200, "code exchange");
        response.json().await.expect("token JSON")
    }

    pub async fn refresh(&self, client: &TestClient, refresh_token: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        form.extend_from_slice(extra);
        self.token_request(client, &form).await
    }

    /// UserInfo's JSON answer for `access_token`.
    pub async fn userinfo(&self, access_token: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo")
            .json()
            .await
            .expect("userinfo JSON")
    }

    pub async fn userinfo_status(&self, access_token: &str) -> u16 {
        reqwest::Client::new()
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo")
            .status()
            .as_u16()
    }

    pub async fn redeem(&self, client: &TestClient, code: &str, verifier: &str) -> reqwest::Response {
        self.token_request(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }
}

/// The claims of a JWT, unverified (for looking, after the library or server verified it).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("JSON")
}

/// The `error` of a JSON error response, with its status.
pub async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["error"].as_str().unwrap_or("(none)").to_string())
}

pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A browser: keeps cookies, does not follow redirects (tests look at each hop).
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("http client");
        Browser {
            http,
            jar,
            base: base.to_string(),
        }
    }

    /// The `Cookie` header this browser would send to Gatehouse.
    pub fn cookies(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url = url::Url::parse(&self.base).expect("base URL");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(self.absolute(url)).send().await.expect("GET")
    }

    /// POSTs a form to a path (or URL) on Gatehouse.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.absolute(url))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Follows redirects that stay on Gatehouse; returns the first response that is not
    /// such a redirect (a page, or a redirect to an app).
    pub async fn follow(&self, url: &str) -> reqwest::Response {
        let mut response = self.get(url).await;
        for _ in 0..10 {
            match location(response.headers()) {
                Some(next) if next.starts_with('/') || next.starts_with(&self.base) => {
                    response = self.get(&next).await;
                }
                _ => break,
            }
        }
        response
    }

    /// Opens an authorize URL, fills in the login form, and returns where Gatehouse finally
    /// redirects the browser (the app's redirect URI with code or error).
    pub async fn sign_in(&self, authorize_url: &str, identifier: &str, password: &str) -> String {
        let page = self.follow(authorize_url).await;
        assert_eq!(page.status(), 200, "expected the login page");
        let html = page.text().await.expect("login page");
        let response = self.submit_login(&html, identifier, password).await;
        assert_eq!(response.status(), 303, "login should succeed");
        let next = location(response.headers()).expect("redirect after login");
        let done = self.follow(&next).await;
        location(done.headers()).expect("redirect to the app")
    }

    /// Submits the login form found in `html`.
    pub async fn submit_login(&self, html: &str, identifier: &str, password: &str) -> reqwest::Response {
        let mut form = vec![
            ("identifier", identifier.to_string()),
            ("password", password.to_string()),
        ];
        form.push(("csrf_token", hidden_input(html, "csrf_token").expect("csrf token")));
        if let Some(id) = hidden_input(html, "request_id") {
            form.push(("request_id", id));
        }
        if let Some(back) = hidden_input(html, "return_to") {
            form.push(("return_to", back));
        }
        self.http
            .post(format!("{}/login", self.base))
            .form(&form)
            .send()
            .await
            .expect("POST /login")
    }
}

pub fn location(headers: &HeaderMap) -> Option<String> {
    headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string)
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let value = parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    value
}

/// The value of `<input type="hidden" name=NAME value=...>` in our templates.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    // Unescape as a browser does before submitting (minijinja escapes `/` too).
    let raw = &html[start..start + end];
    Some(
        raw.replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// A PostgreSQL database that exists for one test.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
            if std::env::var("GATEHOUSE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES_URL is not set");
            }
            eprintln!("\n*** SKIPPED on PostgreSQL: set GATEHOUSE_TEST_POSTGRES_URL to run this test there ***\n");
            return None;
        };
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let name = format!(
            "gatehouse_test_{}",
            gatehouse::secrets::random_id().to_lowercase().replace(['-', '_'], "x")
        );
        let mut conn = sqlx::AnyConnection::connect(&admin_url)
            .await
            .expect("connect to test PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin_url).expect("GATEHOUSE_TEST_POSTGRES_URL");
        url.set_path(&format!("/{name}"));
        Some(PgDatabase {
            admin_url,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running `gatehouse serve` of the real binary, in `dir` on `port`, logging to
/// `dir/server.log`; killed (SIGKILL) when dropped, so a failing test leaves no server.
pub struct ServedBinary {
    child: Option<std::process::Child>,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl ServedBinary {
    /// Starts it with `env` on top of a clean environment (no GATEHOUSE_CONFIG, no
    /// RUST_LOG unless `env` sets one) and waits until `/healthz` answers.
    pub async fn start(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> ServedBinary {
        let base = format!("http://127.0.0.1:{port}");
        let log = dir.join("server.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .current_dir(dir)
            .env_remove("GATEHOUSE_CONFIG")
            .env_remove("RUST_LOG")
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_ISSUER", &base)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start gatehouse");
        let mut server = ServedBinary {
            child: Some(child),
            base,
            log,
        };
        for _ in 0..100 {
            if reqwest::get(format!("{}/healthz", server.base))
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        server.kill();
        panic!("gatehouse serve did not come up:\n{}", server.logs());
    }

    /// SIGKILL (std's `Child::kill`), then reap the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL gatehouse");
            let status = child.wait().expect("reap gatehouse");
            assert!(!status.success(), "killed, not exited: {status:?}");
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServedBinary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Signs in on the bare login page (no app), as a user would to reach /account.
pub async fn signed_in_browser(app: &TestApp, identifier: &str, password: &str) -> Browser {
    let browser = app.browser();
    let html = browser.get("/login").await.text().await.unwrap();
    let response = browser.submit_login(&html, identifier, password).await;
    assert_eq!(response.status(), 303, "sign-in as {identifier} should succeed");
    browser
}

/// Declares each test twice, as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_backends_with! { |_| {}; $($(#[$meta])* async fn $name($app) $body)* }
    };
}

/// As `on_both_backends!`, with the configuration adjusted by `$adjust` (a function
/// `fn(&mut RawConfig)`, or a closure, in scope at the call site).
#[macro_export]
macro_rules! on_both_backends_with {
    ($adjust:expr; $($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[allow(unused_imports)]
                use $crate::helpers::*;

                async fn run($app: TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(spawn_app_with(Backend::Sqlite, $adjust).await.expect("sqlite app")).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = spawn_app_with(Backend::Postgres, $adjust).await {
                        run(app).await
                    }
                }
            }
        )*
    };
}
