//! The peer: panva's oidc-provider (the version pinned for conformance), started from a
//! temporary directory with `bench/peer/provider.mjs` and prepared like Gatehouse.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use url::Url;

use crate::target::{Client, Paths, Target, User};

// The same pin as the conformance peer (one pin for the repository).
const PACKAGE_JSON: &str = include_str!("../../conformance/peers/package.json");
const PACKAGE_LOCK: &str = include_str!("../../conformance/peers/package-lock.json");
const PROVIDER_MJS: &str = include_str!("../peer/provider.mjs");

const NPM_CI_TIMEOUT: Duration = Duration::from_secs(120);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const PREPARE_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const TERM_GRACE: Duration = Duration::from_secs(3);

// Fixed in provider.mjs.
const CC_ID: &str = "bench-cc";
const WEB_ID: &str = "bench-web";
const WEB_REDIRECT: &str = "http://127.0.0.1/bench-callback";
const DISCOVERY: &str = "/.well-known/openid-configuration";

pub struct Peer {
    pub target: Target,
    node: Node,
}

/// The node process and its directory; stopped on drop, also when `start` fails midway.
struct Node {
    child: Option<Child>,
    dir: Option<TempDir>,
}

impl Node {
    fn log_path(&self) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("server.log"))
    }

    /// Last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        self.log_path().map(|p| tail(&p, 40)).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                if let Ok(pid) = i32::try_from(child.id()) {
                    // SAFETY: kill(2) on our own child's pid, which is not yet reaped.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                let deadline = Instant::now() + TERM_GRACE;
                while Instant::now() < deadline {
                    if !matches!(child.try_wait(), Ok(None)) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                if let Ok(None) = child.try_wait() {
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        self.dir.take();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.node.stop();
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    introspection_endpoint: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
}

/// Everything a virtual user's preparation needs.
struct Setup {
    base: String,
    paths: Paths,
    web: Client,
    password: String,
}

impl Peer {
    /// Installs the pinned oidc-provider into a temp dir, starts it on 127.0.0.1:<free port>
    /// over plain HTTP with bench/peer/provider.mjs, waits for discovery, then prepares
    /// `users` virtual users (each: a live browser session cookie, a refresh token and an
    /// access token usable at userinfo) and one introspectable token.
    pub async fn start(users: usize) -> Result<Peer> {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-bench-peer.")
            .tempdir()
            .context("creating the peer's temporary directory")?;
        let mut node = Node {
            child: None,
            dir: Some(dir),
        };
        let path = node.dir.as_ref().expect("just set").path().to_path_buf();
        for (name, text) in [
            ("package.json", PACKAGE_JSON),
            ("package-lock.json", PACKAGE_LOCK),
            ("provider.mjs", PROVIDER_MJS),
        ] {
            std::fs::write(path.join(name), text).with_context(|| format!("writing {name} into {}", path.display()))?;
        }
        npm_ci(&path).await?;

        let cc_secret = random(32);
        let web_secret = random(32);
        let password = random(24);
        let log = File::create(path.join("server.log")).context("creating server.log")?;
        let port_file = path.join("port");
        let child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&path)
            .env("PORT_FILE", &port_file)
            .env("CC_SECRET", &cc_secret)
            .env("WEB_SECRET", &web_secret)
            .env("WEB_REDIRECT", WEB_REDIRECT)
            .env("USER_PASSWORD", &password)
            .env("COOKIE_KEY", random(32))
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cloning the log handle")?)
            .stderr(log)
            .spawn()
            .context("spawning `node provider.mjs` (is node on PATH?)")?;
        let pid = child.id();
        node.child = Some(child);

        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let (port, discovery) = match wait_ready(&mut node, &port_file, &http).await {
            Ok(v) => v,
            Err(e) => bail!("{e:#}\n--- oidc-provider log (tail) ---\n{}", node.log_tail()),
        };
        let base = format!("http://127.0.0.1:{port}");
        if discovery.issuer != base {
            bail!("peer issuer is {}, expected {base}", discovery.issuer);
        }
        let rel = |url: &str| -> Result<String> {
            url.strip_prefix(&base)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("discovery endpoint {url} is not under {base}"))
        };
        let paths = Paths {
            discovery: DISCOVERY.to_owned(),
            jwks: rel(&discovery.jwks_uri)?,
            authorize: rel(&discovery.authorization_endpoint)?,
            token: rel(&discovery.token_endpoint)?,
            userinfo: rel(&discovery.userinfo_endpoint)?,
            introspection: rel(&discovery.introspection_endpoint)?,
        };
        let cc = Client {
            id: CC_ID.to_owned(),
            secret: Some(cc_secret),
            redirect_uri: String::new(),
        };
        let web = Client {
            id: WEB_ID.to_owned(),
            secret: Some(web_secret),
            redirect_uri: WEB_REDIRECT.to_owned(),
        };
        let setup = Arc::new(Setup {
            base: base.clone(),
            paths: paths.clone(),
            web: web.clone(),
            password,
        });

        let prepared = tokio::time::timeout(PREPARE_TIMEOUT, async {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..users {
                let setup = setup.clone();
                set.spawn(async move { (i, prepare_user(&setup, i).await) });
            }
            let mut out: Vec<Option<User>> = vec![None; users];
            while let Some(joined) = set.join_next().await {
                let (i, user) = joined.context("a preparation task panicked")?;
                out[i] = Some(user.with_context(|| format!("preparing virtual user {i}"))?);
            }
            let introspect_token = opaque_token(&http, &base, &paths, &cc).await?;
            anyhow::Ok((out.into_iter().flatten().collect::<Vec<_>>(), introspect_token))
        })
        .await;
        let (users, introspect_token) = match prepared {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => bail!("{e:#}\n--- oidc-provider log (tail) ---\n{}", node.log_tail()),
            Err(_) => bail!(
                "preparing {users} virtual users at the peer took over {} s\n--- oidc-provider log (tail) ---\n{}",
                PREPARE_TIMEOUT.as_secs(),
                node.log_tail()
            ),
        };

        let target = Target {
            name: "oidc-provider".to_owned(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            base,
            paths,
            cc,
            cc_body: "grant_type=client_credentials&scope=api%3Aread&resource=urn%3Abench%3Ajwt".to_owned(),
            web,
            web_scope: "openid".to_owned(),
            authorize_extra: String::new(),
            token_extra: String::new(),
            users,
            introspect_token,
            login: None,
            signup_page: None,
            pid,
        };
        Ok(Peer { target, node })
    }
}

async fn npm_ci(dir: &Path) -> Result<()> {
    let mut cmd = tokio::process::Command::new("npm");
    cmd.args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--ignore-scripts",
        "--loglevel=error",
    ])
    .current_dir(dir)
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(NPM_CI_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            anyhow!(
                "`npm ci` of oidc-provider in {} did not finish within {} s",
                dir.display(),
                NPM_CI_TIMEOUT.as_secs()
            )
        })?
        .context("running `npm ci` (is npm on PATH?)")?;
    if !out.status.success() {
        bail!(
            "`npm ci` of oidc-provider in {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Waits for the port file, then for discovery to answer 200.
async fn wait_ready(node: &mut Node, port_file: &Path, http: &reqwest::Client) -> Result<(u16, Discovery)> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut port = None;
    let mut last = String::from("no port file yet");
    loop {
        if let Some(status) = node
            .child
            .as_mut()
            .and_then(|c| c.try_wait().transpose())
            .transpose()
            .context("checking on the node process")?
        {
            bail!("oidc-provider exited during startup ({status})");
        }
        if port.is_none() {
            if let Ok(text) = std::fs::read_to_string(port_file) {
                port = Some(
                    text.trim()
                        .parse::<u16>()
                        .with_context(|| format!("port file holds {text:?}"))?,
                );
            }
        }
        if let Some(p) = port {
            let url = format!("http://127.0.0.1:{p}{DISCOVERY}");
            match http.get(&url).send().await {
                Ok(r) if r.status() == 200 => {
                    let d = r.json().await.context("parsing the peer's discovery")?;
                    return Ok((p, d));
                }
                Ok(r) => last = format!("{url} answered {}", r.status()),
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "oidc-provider was not ready within {} s ({last})",
                STARTUP_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs virtual user `i` in through provider.mjs's login interaction (with prompt=consent,
/// which oidc-provider needs to keep offline_access) and exchanges the code.
async fn prepare_user(s: &Setup, i: usize) -> Result<User> {
    let jar = Arc::new(Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let base = Url::parse(&s.base)?;
    let authorize = base.join(&s.paths.authorize)?;
    let verifier = random(64);
    let mut url = authorize.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &s.web.id)
        .append_pair("redirect_uri", &s.web.redirect_uri)
        .append_pair("scope", "openid offline_access")
        .append_pair("prompt", "consent")
        .append_pair("state", &random(16))
        .append_pair("nonce", &random(16))
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    let mut resp = http.get(url).send().await?;
    let mut code = None;
    for _ in 0..6 {
        if !resp.status().is_redirection() {
            let (status, path) = (resp.status(), resp.url().path().to_owned());
            bail!("{path} answered {status}: {}", resp.text().await.unwrap_or_default());
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("redirect without Location from {}", resp.url()))?;
        let next = resp.url().join(location)?;
        if next.as_str().starts_with(&s.web.redirect_uri) {
            let q: std::collections::HashMap<_, _> = next.query_pairs().into_owned().collect();
            code = Some(
                q.get("code")
                    .cloned()
                    .ok_or_else(|| anyhow!("no code in the redirect {next}"))?,
            );
            break;
        }
        resp = if next.path().starts_with("/interaction/") {
            let login = format!("bench-user-{i}");
            http.post(next)
                .form(&[("login", login.as_str()), ("password", s.password.as_str())])
                .send()
                .await?
        } else {
            http.get(next).send().await?
        };
    }
    let code = code.ok_or_else(|| anyhow!("no code after 6 redirects"))?;

    let tokens: TokenResponse = token_request(
        &http,
        base.join(&s.paths.token)?,
        &s.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &s.web.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await?;
    if tokens.id_token.is_none() {
        bail!("code exchange returned no id_token");
    }
    let refresh_token = tokens
        .refresh_token
        .ok_or_else(|| anyhow!("code exchange with offline_access returned no refresh_token"))?;
    // What a browser would send to the authorization endpoint: the session cookies.
    let session_cookie = jar
        .cookies(&authorize)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .filter(|c| c.contains("_session="))
        .ok_or_else(|| anyhow!("no session cookie for {authorize}"))?;
    Ok(User {
        session_cookie,
        refresh_token,
        access_token: tokens.access_token,
    })
}

/// An opaque client_credentials access token (oidc-provider introspects only those).
async fn opaque_token(http: &reqwest::Client, base: &str, paths: &Paths, cc: &Client) -> Result<String> {
    let url = Url::parse(base)?.join(&paths.token)?;
    let t: TokenResponse = token_request(
        http,
        url,
        cc,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("resource", "urn:bench:opaque"),
        ],
    )
    .await
    .context("getting the token to introspect")?;
    Ok(t.access_token)
}

async fn token_request(
    http: &reqwest::Client,
    url: Url,
    client: &Client,
    form: &[(&str, &str)],
) -> Result<TokenResponse> {
    let resp = http
        .post(url)
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.text().await?;
    if status != 200 {
        bail!("token endpoint answered {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("token response {body}"))
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn random(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

fn tail(path: &Path, lines: usize) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = File::open(path) {
        // only the end matters
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let _ = f.read_to_end(&mut bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn jwt_part(jwt: &str, i: usize) -> Value {
        let part = jwt.split('.').nth(i).expect("JWT has three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    }

    async fn token(http: &reqwest::Client, t: &Target, client: &Client, body: String) -> (reqwest::StatusCode, Value) {
        let r = http
            .post(format!("{}{}", t.base, t.paths.token))
            .basic_auth(&client.id, client.secret.as_deref())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token request");
        (r.status(), r.json().await.expect("token JSON"))
    }

    /// The SSO loop's two requests: authorize with the session cookie, then the code exchange.
    async fn sso(http: &reqwest::Client, t: &Target, user: &User, tag: &str) {
        let web = &t.web;
        let verifier = random(64);
        let url = format!(
            "{}{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state=s{tag}&nonce=n{tag}&code_challenge={}&code_challenge_method=S256{}",
            t.base,
            t.paths.authorize,
            web.id,
            form_urlencoded::byte_serialize(web.redirect_uri.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(t.web_scope.as_bytes()).collect::<String>(),
            pkce_challenge(&verifier),
            t.authorize_extra
        );
        let r = http
            .get(url)
            .header("cookie", &user.session_cookie)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "authorize: {}", r.status());
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let prefix = format!("{}?code=", web.redirect_uri);
        assert!(loc.starts_with(&prefix), "SSO redirect without interaction: {loc}");
        let code = Url::parse(&loc)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &web.redirect_uri)
            .append_pair("code_verifier", &verifier)
            .finish()
            + &t.token_extra;
        let (status, tokens) = token(http, t, web, body).await;
        assert_eq!(status, 200, "code exchange: {tokens}");
        assert!(tokens["access_token"].is_string(), "{tokens}");
        let id_token = tokens["id_token"].as_str().expect("id_token");
        assert_eq!(jwt_part(id_token, 0)["alg"], "RS256");
    }

    /// Each scenario's request once per virtual user, against the real peer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn peer_serves_every_scenario() {
        let started = Instant::now();
        let peer = Peer::start(4).await.expect("peer starts");
        eprintln!("Peer::start(4) took {:?}", started.elapsed());
        let t = &peer.target;
        assert_eq!(t.name, "oidc-provider");
        assert_eq!(t.users.len(), 4);
        assert!(t.addr.ip().is_loopback());
        assert!(t.login.is_none() && t.signup_page.is_none());
        // no cookie store: the scenarios send the prepared Cookie header themselves
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();
        let web = &t.web;

        // oidc-provider's own memory adapter keeps only about 1000 recent entries; the
        // prepared state must outlive a run that stores many more.
        let mut flood = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (http, t) = (http.clone(), t.clone());
            flood.spawn(async move {
                for _ in 0..160 {
                    opaque_token(&http, &t.base, &t.paths, &t.cc).await.unwrap();
                }
            });
        }
        while let Some(done) = flood.join_next().await {
            done.expect("2560 other stored tokens");
        }

        for (i, user) in t.users.iter().enumerate() {
            for path in [&t.paths.discovery, &t.paths.jwks] {
                let r = http.get(format!("{}{path}", t.base)).send().await.unwrap();
                assert_eq!(r.status(), 200, "GET {path}");
                r.json::<Value>().await.expect("JSON");
            }

            let (status, cc) = token(&http, t, &t.cc, t.cc_body.clone()).await;
            assert_eq!(status, 200, "client_credentials: {cc}");
            let at = cc["access_token"].as_str().expect("access_token");
            assert_eq!(jwt_part(at, 0)["alg"], "RS256", "cc access token is an RS256 JWT");
            assert_eq!(jwt_part(at, 1)["client_id"], t.cc.id.as_str());

            sso(&http, t, user, &format!("{i}a")).await;

            let r = http
                .get(format!("{}{}", t.base, t.paths.userinfo))
                .bearer_auth(&user.access_token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "userinfo");
            let info: Value = r.json().await.unwrap();
            assert_eq!(info["sub"], format!("bench-user-{i}"));

            let r = http
                .post(format!("{}{}", t.base, t.paths.introspection))
                .basic_auth(&t.cc.id, t.cc.secret.as_deref())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={}", t.introspect_token))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "introspection");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["active"], true, "introspection: {v}");

            let refresh = |rt: &str| token(&http, t, web, format!("grant_type=refresh_token&refresh_token={rt}"));
            let (status, rotated) = refresh(&user.refresh_token).await;
            assert_eq!(status, 200, "refresh: {rotated}");
            let new_rt = rotated["refresh_token"].as_str().expect("rotated refresh_token");
            assert_ne!(new_rt, user.refresh_token);
            let (status, again) = refresh(&user.refresh_token).await;
            assert_eq!(status, 400, "reused refresh token: {again}");
            assert_eq!(again["error"], "invalid_grant");

            // reuse detection revoked the grant; the SSO loop still needs no interaction
            sso(&http, t, user, &format!("{i}b")).await;
        }

        let pid = t.pid;
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        let dir = peer.node.dir.as_ref().unwrap().path().to_path_buf();
        drop(peer);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "node stopped");
        assert!(!dir.exists(), "temp dir removed");
    }
}
