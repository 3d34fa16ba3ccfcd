//! Gatehouse under test: a release binary started on a temporary directory, seeded
//! through its own CLI exactly as an operator would, then prepared (virtual users signed
//! in through the hosted login page, tokens obtained through the real flows).

use crate::prepare::{self, Browser};
use crate::target::{Client, PasswordLogin, Paths, Target, User};
use anyhow::{bail, Context};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "bench: correct horse battery staple 42";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// The resource the example resource server protects: client_credentials tokens name it.
pub const API_AUDIENCE: &str = "urn:gatehouse-bench:api";

pub struct Server {
    child: Child,
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub addr: SocketAddr,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts `bin` on a fresh temporary directory: SQLite there, or `database_url`.
    pub async fn start(bin: &Path, database_url: Option<&str>) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let database_url = match database_url {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
        };
        let config = format!(
            r#"listen = "127.0.0.1:{port}"
issuer = "{base}"
database_url = "{database_url}"
keys_dir = "{keys}"

[mail]
file_dir = "{mail}"

# The login flood and the preparation sign in far more often than a person: the
# per-address and global limits would (rightly) refuse them.
[accounts]
rate_limit_per_minute = 10000000
global_rate_limit_per_minute = 10000000
parked_requests_per_minute = 10000000
"#,
            keys = dir.path().join("keys").display(),
            mail = dir.path().join("mail").display(),
        );
        std::fs::write(dir.path().join("gatehouse.toml"), config)?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(dir.path().join("gatehouse.toml"))
            .arg("serve")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = Server {
            child,
            dir,
            bin: bin.to_path_buf(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            base,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("Gatehouse did not become ready within 30 s:\n{}", self.log_tail())
    }

    /// Runs a CLI command against this server's configuration; returns its stdout.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        let mut child = Command::new(&self.bin)
            .arg("--config")
            .arg(self.dir.path().join("gatehouse.toml"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(input) = stdin {
            child.stdin.take().context("stdin")?.write_all(input.as_bytes())?;
        }
        drop(child.stdin.take());
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("gatehouse {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    fn create_client(&self, args: &[&str]) -> anyhow::Result<Client> {
        let mut all = vec!["client", "create", "--json"];
        all.extend_from_slice(args);
        let out: serde_json::Value = serde_json::from_str(self.cli(&all, None)?.trim())?;
        Ok(Client {
            id: out["client_id"].as_str().context("client_id")?.to_string(),
            secret: out["client_secret"].as_str().map(str::to_string),
            redirect_uri: REDIRECT_URI.to_string(),
        })
    }

    /// Registers the clients and the account, signs `users` virtual users in.
    pub async fn prepare(&self, users: usize) -> anyhow::Result<Target> {
        let cc = self.create_client(&[
            "--name",
            "bench service",
            "--grant-type",
            "client_credentials",
            "--audience",
            API_AUDIENCE,
        ])?;
        let web = self.create_client(&[
            "--name",
            "bench web app",
            "--redirect-uri",
            REDIRECT_URI,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ])?;
        self.cli(
            &[
                "user",
                "create",
                "--username",
                "bench",
                "--email",
                "bench@example.com",
                "--password-stdin",
            ],
            Some(PASSWORD),
        )?;
        let login = PasswordLogin {
            login_path: "/login".into(),
            identifier: "bench".into(),
            password: PASSWORD.into(),
        };
        let mut target = Target {
            name: "gatehouse".into(),
            addr: self.addr,
            base: self.base.clone(),
            paths: Paths {
                discovery: "/.well-known/openid-configuration".into(),
                jwks: "/jwks".into(),
                authorize: "/authorize".into(),
                token: "/token".into(),
                userinfo: "/userinfo".into(),
                introspection: "/introspect".into(),
            },
            cc_body: "grant_type=client_credentials".into(),
            cc,
            web,
            web_scope: "openid".into(),
            authorize_extra: String::new(),
            token_extra: String::new(),
            users: Vec::new(),
            introspect_token: String::new(),
            login: Some(login.clone()),
            signup_page: Some("/signup".into()),
            pid: self.pid(),
        };
        for _ in 0..users {
            let browser = Browser::new(&self.base)?;
            browser.password_login(&login).await?;
            let tokens = prepare::code_flow(&browser, &target, "openid offline_access").await?;
            target.users.push(User {
                session_cookie: browser.cookie_header(),
                refresh_token: tokens["refresh_token"].as_str().context("refresh_token")?.to_string(),
                access_token: tokens["access_token"].as_str().context("access_token")?.to_string(),
            });
        }
        target.introspect_token = prepare::client_credentials(&target).await?;
        Ok(target)
    }
}
