//! The harness: a fresh PostgreSQL database (on the shared test server, or on a private
//! PostgreSQL this test owns and may stop), two or three real `gatehouse serve`
//! processes on it, each with its own working directory (so its own `keys/` and `data/`),
//! all with the one public issuer a load balancer would give them: node A's address.
//! Requests go straight to each node's own port, as a load balancer would send them.
//! Once the binary has `keys.encryption_key`, every node also gets the same one, as an
//! operator would configure them.
//! A [`Visitor`] is one browser whose cookies travel to whichever node it talks to.

use crate::helpers::{add_client, create_user, free_port, hidden_input, location, query_param, ServedBinary};
use crate::helpers::{TestClient, TestUser, CONFIDENTIAL_REDIRECT, PASSWORD};
use crate::smtp::SmtpSink;
use gatehouse::store::Store;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tempfile::TempDir;

/// The relying party's registered post-logout redirect URI.
pub const PLRU: &str = "http://127.0.0.1:9/post_logout_redirect";

/// Names for the nodes in failure messages.
pub const NAMES: [&str; 4] = ["A", "B", "C", "D"];

/// What a test needs of its cluster.
pub struct Options {
    pub nodes: usize,
    /// Run on a PostgreSQL of the test's own (it may stop and restart it).
    pub private_postgres: bool,
    /// The relying party's back-channel logout receiver.
    pub backchannel_uri: Option<String>,
    /// More `GATEHOUSE_*` settings for every node.
    pub env: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: 3,
            private_postgres: false,
            backchannel_uri: None,
            env: vec![],
        }
    }
}

pub struct Node {
    pub name: &'static str,
    pub base: String,
    server: ServedBinary,
    pub dir: TempDir,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> String {
        self.server.logs()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.server.kill()
    }
}

pub struct Cluster {
    /// The one public issuer of every node (node A's address).
    pub issuer: String,
    pub nodes: Vec<Node>,
    /// The shared database, for seeding and for looking at what the nodes left there.
    pub store: Store,
    /// A confidential first-party client that always gets refresh tokens.
    pub client: TestClient,
    pub user: TestUser,
    /// Every node sends its mail here.
    pub mail: SmtpSink,
    pub http: reqwest::Client,
    /// The `GATEHOUSE_*` environment every node runs with (for the CLI too).
    pub env: Vec<(&'static str, String)>,
    // Dropped last, in this order: the database, then the PostgreSQL it lives on.
    _db: Database,
    pub postgres: Option<PrivatePostgres>,
}

/// True when PostgreSQL tests must run (CI): then a missing server is a failure.
pub(super) fn required() -> bool {
    std::env::var("GATEHOUSE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

impl Cluster {
    /// Starts the cluster. None (after saying so loudly) when PostgreSQL is not configured,
    /// unless GATEHOUSE_REQUIRE_POSTGRES=1, when that is a failure.
    pub async fn start(options: Options) -> Option<Cluster> {
        let Ok(shared_admin) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
            if required() {
                panic!("GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES_URL is not set");
            }
            eprintln!(
                "\n*** SKIPPED multi-node test: set GATEHOUSE_TEST_POSTGRES_URL to run several Gatehouse instances on PostgreSQL ***\n"
            );
            return None;
        };
        let postgres = match options.private_postgres {
            true => Some(PrivatePostgres::start()?),
            false => None,
        };
        let admin_url = postgres.as_ref().map(|p| p.admin_url()).unwrap_or(shared_admin);
        let db = Database::create(&admin_url).await;
        let mail = SmtpSink::start().await;

        let ports: Vec<u16> = (0..options.nodes).map(|_| free_port()).collect();
        let issuer = format!("http://127.0.0.1:{}", ports[0]);
        let mut env: Vec<(&'static str, String)> = vec![
            ("GATEHOUSE_ISSUER", issuer.clone()),
            ("GATEHOUSE_DATABASE_URL", db.url.clone()),
            ("GATEHOUSE_MAIL__SMTP_URL", mail.url()),
            ("GATEHOUSE_PASSWORD_HASHING__MEMORY_KIB", "8192".into()),
            ("GATEHOUSE_PASSWORD_HASHING__ITERATIONS", "1".into()),
            // All test traffic comes from 127.0.0.1; the per-IP limit is not under test.
            ("GATEHOUSE_ACCOUNTS__RATE_LIMIT_PER_MINUTE", "100000".into()),
            ("GATEHOUSE_ACCOUNTS__GLOBAL_RATE_LIMIT_PER_MINUTE", "100000".into()),
            // The nodes call back to the test on loopback (back-channel logout).
            ("GATEHOUSE_OUTBOUND__ALLOW_PRIVATE_NETWORKS", "true".into()),
            ("GATEHOUSE_ACCOUNTS__PARKED_REQUESTS_PER_MINUTE", "100000".into()),
        ];
        // Every node of a real deployment is given the same key-encryption key for the
        // signing keys in the database (README, "Running several instances").
        {
            use base64::Engine;
            let kek = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
            env.push(("GATEHOUSE_KEYS__ENCRYPTION_KEY", kek));
        }
        env.extend(options.env);
        // All nodes start together on the empty database: they migrate it once, under
        // PostgreSQL's advisory lock, and none may fail for the others.
        let dirs: Vec<TempDir> = ports.iter().map(|_| tempfile::tempdir().expect("node dir")).collect();
        let starts = dirs.iter().zip(&ports).map(|(dir, port)| {
            let env = env.clone();
            let dir = dir.path().to_path_buf();
            let port = *port;
            async move {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                ServedBinary::start(&dir, port, &env).await
            }
        });
        let servers = futures_join_all(starts).await;
        let nodes: Vec<Node> = servers
            .into_iter()
            .zip(dirs)
            .zip(&ports)
            .enumerate()
            .map(|(i, ((server, dir), port))| Node {
                name: NAMES[i],
                base: format!("http://127.0.0.1:{port}"),
                server,
                dir,
            })
            .collect();

        let store = Store::connect(&db.url)
            .await
            .expect("connect to the cluster's database");
        mail.watch_outbox(store.clone());
        let now = unix_now();
        let backchannel = options.backchannel_uri.clone();
        let client = add_client(&store, "rp", true, now, |c| {
            c.redirect_uris = vec![CONFIDENTIAL_REDIRECT.into()];
            c.post_logout_redirect_uris = vec![PLRU.into()];
            c.backchannel_logout_uri = backchannel;
            c.always_refresh = true;
        })
        .await;
        let user = create_user(&store, "alice", "alice@example.com", now).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("http client");
        Some(Cluster {
            issuer,
            nodes,
            store,
            client,
            user,
            mail,
            http,
            env,
            _db: db,
            postgres,
        })
    }

    /// Node `i`, counting round the cluster.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i % self.nodes.len()]
    }

    pub fn visitor(&self) -> Visitor {
        Visitor::new(&self.issuer)
    }

    /// Another user, as `gatehouse user create` would make them.
    pub async fn add_user(&self, username: &str) -> TestUser {
        create_user(&self.store, username, &format!("{username}@example.com"), unix_now()).await
    }

    /// An authorize request for the relying party: its path and query, and the PKCE verifier.
    pub fn authorize_path(&self, extra: &[(&str, &str)]) -> (String, String) {
        let verifier = gatehouse::secrets::random_token();
        let challenge = crate::helpers::pkce_challenge(&verifier);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client.id.as_str()),
            ("redirect_uri", self.client.redirect_uri.as_str()),
            ("scope", "openid email profile"),
            ("state", "st4te"),
            ("nonce", "n0nce"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            params.push((k, v));
        }
        (
            format!("/authorize?{}", serde_urlencoded::to_string(&params).expect("query")),
            verifier,
        )
    }

    /// Signs `visitor` in as `username` through the authorize flow, each hop on the next
    /// node from `first` on; the code and its verifier.
    pub async fn code(&self, visitor: &Visitor, username: &str, first: usize) -> (String, String) {
        let (path, verifier) = self.authorize_path(&[]);
        let to = visitor
            .sign_in(self, &path, username, first)
            .await
            .unwrap_or_else(|e| panic!("sign-in as {username} starting on node {}: {e}", self.node(first).name));
        let code = query_param(&to, "code").unwrap_or_else(|| panic!("no code in the redirect to the app: {to}"));
        (code, verifier)
    }

    /// POSTs `form` to `path` on node `at` as the relying party (client_secret_basic).
    pub async fn client_post(
        &self,
        at: usize,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.http
            .post(self.node(at).url(path))
            .basic_auth(&self.client.id, self.client.secret.as_deref())
            .form(form)
            .send()
            .await
    }

    pub async fn redeem(&self, at: usize, code: &str, verifier: &str) -> Result<reqwest::Response, reqwest::Error> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.client.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        self.client_post(at, "/token", &form).await
    }

    pub async fn refresh(&self, at: usize, refresh_token: &str) -> Result<reqwest::Response, reqwest::Error> {
        self.client_post(
            at,
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }

    /// RFC 7662 at node `at`: the answer's `active`, or why there is none.
    pub async fn active(&self, at: usize, token: &str) -> Result<bool, String> {
        let response = self
            .client_post(at, "/introspect", &[("token", token)])
            .await
            .map_err(|e| format!("introspection at node {}: {e}", self.node(at).name))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status != 200 {
            return Err(format!(
                "introspection at node {} answered {status}: {body}",
                self.node(at).name
            ));
        }
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("introspection JSON {body}: {e}"))?;
        Ok(json["active"] == true)
    }

    /// Signs in (hops from node `first` on) and redeems the code at node `redeem_at`: the
    /// token response.
    pub async fn tokens(&self, visitor: &Visitor, first: usize, redeem_at: usize) -> Value {
        let (code, verifier) = self.code(visitor, &self.user.username, first).await;
        let response = self.redeem(redeem_at, &code, &verifier).await.expect("token request");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            200,
            "redeeming at node {} a code issued by node {}: {body}",
            self.node(redeem_at).name,
            self.node(first).name
        );
        serde_json::from_str(&body).expect("token JSON")
    }

    /// The JWKS node `at` publishes.
    pub async fn jwks(&self, at: usize) -> Value {
        let response = self
            .http
            .get(self.node(at).url("/jwks"))
            .send()
            .await
            .expect("GET /jwks");
        assert_eq!(response.status(), 200, "GET /jwks at node {}", self.node(at).name);
        response.json().await.expect("JWKS JSON")
    }

    /// Every node's log, for a failure message.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("----- node {} ({}) -----\n{}", n.name, n.base, tail(&n.logs(), 60)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs the `gatehouse` CLI in node `at`'s directory with the cluster's settings.
    pub fn cli(&self, at: usize, args: &[&str]) -> std::process::Output {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::cli::gatehouse(self.node(at).dir.path(), args, &env, None)
    }

    /// Waits (bounded) until nothing is left in `table` (an outbox), or says what is.
    pub async fn drained(&self, table: &str) -> Result<(), String> {
        let mut left = -1;
        for _ in 0..200 {
            left = sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(self.store.pool())
                .await
                .unwrap_or(-1);
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("{left} row(s) still in {table} after 20 s"))
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub fn unix_now() -> i64 {
    gatehouse::Clock::system().now()
}

/// Runs futures concurrently, keeping their order (no `futures` crate in the tests).
pub async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(
            handle
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        );
    }
    out
}

/// One browser behind the load balancer: its cookies (host-only on the issuer's host, so
/// sent to every node) go with each request to whichever node it is sent to.
pub struct Visitor {
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
    issuer: String,
}

impl Visitor {
    pub fn new(issuer: &str) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .expect("http client"),
            cookies: Mutex::new(BTreeMap::new()),
            issuer: issuer.to_string(),
        }
    }

    /// `location` (a path, or a URL on the issuer) on `node`; None when it leaves Gatehouse.
    fn on(&self, node: &Node, location: &str) -> Option<String> {
        if location.starts_with('/') {
            Some(node.url(location))
        } else {
            location.strip_prefix(&self.issuer).map(|rest| node.url(rest))
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, response: &reqwest::Response) {
        let mut jar = self.cookies.lock().unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let first = value.split(';').next().unwrap_or_default();
            let Some((name, val)) = first.split_once('=') else {
                continue;
            };
            let deleted = val.is_empty() || value.split(';').any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if deleted {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), val.trim().to_string());
            }
        }
    }

    /// GET `path` (or an issuer URL) on `node`.
    pub async fn get(&self, node: &Node, path: &str) -> Result<reqwest::Response, reqwest::Error> {
        let url = self.on(node, path).unwrap_or_else(|| path.to_string());
        let response = self.http.get(url).header(COOKIE, self.cookie_header()).send().await?;
        self.keep(&response);
        Ok(response)
    }

    /// POSTs a form to `path` on `node`.
    pub async fn post(
        &self,
        node: &Node,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        let response = self
            .http
            .post(node.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await?;
        self.keep(&response);
        Ok(response)
    }

    /// Follows redirects that stay on Gatehouse, hop `i` on node `first + i`; the first
    /// answer that is not such a redirect.
    async fn follow(&self, cluster: &Cluster, path: &str, first: usize) -> Result<(reqwest::Response, usize), String> {
        let mut at = first;
        let mut response = self.get(cluster.node(at), path).await.map_err(|e| e.to_string())?;
        for _ in 0..10 {
            let Some(next) = location(response.headers()) else {
                break;
            };
            if self.on(cluster.node(at), &next).is_none() {
                break;
            }
            at += 1;
            response = self.get(cluster.node(at), &next).await.map_err(|e| e.to_string())?;
        }
        Ok((response, at))
    }

    /// Opens `authorize_path` and signs in as `username`, every hop on the next node:
    /// where Gatehouse finally sends the browser (the app's redirect URI).
    pub async fn sign_in(
        &self,
        cluster: &Cluster,
        authorize_path: &str,
        username: &str,
        first: usize,
    ) -> Result<String, String> {
        let (page, at) = self.follow(cluster, authorize_path, first).await?;
        let status = page.status();
        let html = page.text().await.unwrap_or_default();
        if status != 200 || !html.contains("name=\"password\"") {
            return Err(format!("expected the login page, got {status}: {}", tail(&html, 20)));
        }
        let response = self
            .submit_login(cluster.node(at + 1), &html, username, PASSWORD)
            .await?;
        if response.status() != 303 {
            return Err(format!(
                "login at node {} answered {} (expected 303)",
                cluster.node(at + 1).name,
                response.status()
            ));
        }
        let next = location(response.headers()).ok_or("no Location after login")?;
        let (done, _) = self.follow(cluster, &next, at + 2).await?;
        let status = done.status();
        match location(done.headers()) {
            Some(to) => Ok(to),
            None => Err(format!(
                "no redirect to the app after login: {status} {}",
                done.text().await.unwrap_or_default()
            )),
        }
    }

    /// Submits the login form in `html` to `node`.
    pub async fn submit_login(
        &self,
        node: &Node,
        html: &str,
        identifier: &str,
        password: &str,
    ) -> Result<reqwest::Response, String> {
        let mut form = vec![
            ("identifier", identifier.to_string()),
            ("password", password.to_string()),
            (
                "csrf_token",
                hidden_input(html, "csrf_token").ok_or("no csrf_token on the login page")?,
            ),
        ];
        if let Some(id) = hidden_input(html, "request_id") {
            form.push(("request_id", id));
        }
        self.post(node, "/login", &form).await.map_err(|e| e.to_string())
    }

    /// Opens the bare login page on `page_at` and logs in on `post_at`: the answer's status
    /// (303 signed in, 401 refused, 429 locked out).
    pub async fn log_in(
        &self,
        page_at: &Node,
        post_at: &Node,
        identifier: &str,
        password: &str,
    ) -> Result<u16, String> {
        let page = self.get(page_at, "/login").await.map_err(|e| e.to_string())?;
        let html = page.text().await.map_err(|e| e.to_string())?;
        Ok(self
            .submit_login(post_at, &html, identifier, password)
            .await?
            .status()
            .as_u16())
    }

    /// The status of GET /account on `node` (200 signed in, a redirect to /login if not).
    pub async fn account_status(&self, node: &Node) -> Result<u16, String> {
        self.get(node, "/account")
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("GET /account at node {}: {e}", node.name))
    }

    /// Signs out on `node` through its confirmation page (no id_token_hint, so no node's
    /// keys are involved).
    pub async fn log_out(&self, node: &Node) -> Result<(), String> {
        let page = self.get(node, "/logout").await.map_err(|e| e.to_string())?;
        let status = page.status();
        let html = page.text().await.unwrap_or_default();
        let csrf = hidden_input(&html, "csrf_token")
            .ok_or_else(|| format!("GET /logout at node {}: {status}, no confirmation form", node.name))?;
        let done = self
            .post(node, "/logout/confirm", &[("csrf_token", csrf)])
            .await
            .map_err(|e| e.to_string())?;
        let status = done.status();
        let text = done.text().await.unwrap_or_default();
        if status != 200 || !text.contains("signed out") {
            return Err(format!(
                "POST /logout/confirm at node {}: {status} {}",
                node.name,
                tail(&text, 10)
            ));
        }
        Ok(())
    }
}

/// A PostgreSQL database for one test, dropped after it.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(admin_url: &str) -> Database {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let name = format!(
            "gatehouse_multinode_{}",
            gatehouse::secrets::random_id().to_lowercase().replace(['-', '_'], "x")
        );
        let mut conn = sqlx::AnyConnection::connect(admin_url).await.unwrap_or_else(|e| {
            panic!(
                "connect to PostgreSQL at {}: {e}",
                gatehouse::store::redact_url(admin_url)
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin_url).expect("PostgreSQL URL");
        url.set_path(&format!("/{name}"));
        Database {
            admin_url: admin_url.to_string(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                let connect = sqlx::AnyConnection::connect(&admin_url);
                if let Ok(Ok(mut conn)) = tokio::time::timeout(Duration::from_secs(5), connect).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let drop = sqlx::query(&sql).execute(&mut conn);
                    let _ = tokio::time::timeout(Duration::from_secs(10), drop).await;
                }
            });
        })
        .join();
    }
}

pub use super::private_postgres::PrivatePostgres;
