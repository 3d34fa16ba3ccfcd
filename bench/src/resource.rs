//! The seed question, "session cookies or JWTs?": the example resource server
//! (examples/resource-server) protects one route three ways, and each is loaded at 100
//! and 500 concurrent users. Before the load, each mode is checked to refuse a request
//! without credentials, so a server that let everything through could not pass.

use crate::conn::Conn;
use crate::gatehouse::{free_port, API_AUDIENCE};
use crate::load::{self, Plan};
use crate::results::Row;
use crate::target::Target;
use anyhow::{bail, Context};
use hyper::header::{AUTHORIZATION, COOKIE};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ResourceServer {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Jwt,
    Introspection,
    Session,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Jwt, Mode::Introspection, Mode::Session];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Jwt => "local JWT",
            Mode::Introspection => "introspection",
            Mode::Session => "session cookie",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Mode::Jwt => "/jwt/hello",
            Mode::Introspection => "/introspect/hello",
            Mode::Session => "/session/hello",
        }
    }
}

impl ResourceServer {
    pub async fn start(bin: &Path, gatehouse: &Target) -> anyhow::Result<ResourceServer> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(bin)
            .args([
                "--listen",
                &addr.to_string(),
                "--issuer",
                &gatehouse.base,
                "--audience",
                API_AUDIENCE,
            ])
            .args(["--introspection-client-id", &gatehouse.cc.id])
            .args([
                "--introspection-client-secret",
                gatehouse.cc.secret.as_deref().unwrap_or(""),
            ])
            .env("RUST_LOG", "warn")
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = ResourceServer { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut conn = Conn::new(addr);
        loop {
            if let Ok(r) = conn.get(Mode::Jwt.path(), &[]).await {
                if r.status == 401 {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                bail!("the resource server did not answer within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn credential(mode: Mode, token: &str, cookie: &str) -> (hyper::header::HeaderName, String) {
    match mode {
        Mode::Session => (COOKIE, cookie.to_string()),
        _ => (AUTHORIZATION, format!("Bearer {token}")),
    }
}

/// Refuses without credentials, accepts with them: each mode once, before any load.
async fn check(rs: &ResourceServer, mode: Mode, token: &str, cookie: &str) -> anyhow::Result<()> {
    let mut conn = Conn::new(rs.addr);
    let bare = conn.get(mode.path(), &[]).await?;
    if bare.status != 401 {
        bail!("{}: a request without credentials got {}", mode.name(), bare.describe());
    }
    let (name, value) = credential(mode, token, cookie);
    let ok = conn.get(mode.path(), &[(name, &value)]).await?;
    if ok.status != 200 {
        bail!("{}: a valid credential got {}", mode.name(), ok.describe());
    }
    Ok(())
}

/// Each mode at each user count; `gatehouse_pid` is sampled for the CPU the mode costs
/// the identity provider.
pub async fn run(
    rs: &ResourceServer,
    target: &Arc<Target>,
    token: &str,
    plan: Plan,
    users: &[usize],
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for mode in Mode::ALL {
        check(rs, mode, token, &target.users[0].session_cookie).await?;
        for &count in users {
            let vusers: Vec<(String, String)> = (0..count)
                .map(|i| {
                    let (_, v) = credential(mode, token, &target.users[i % target.users.len()].session_cookie);
                    let name = match mode {
                        Mode::Session => "cookie",
                        _ => "authorization",
                    };
                    (name.to_string(), v)
                })
                .collect();
            let plan = Plan {
                concurrency: count,
                ..plan
            };
            let path = mode.path();
            let measured = load::run(
                plan,
                rs.addr,
                target.pid,
                vusers,
                move |mut conn: Conn, u: (String, String)| async move {
                    let name = hyper::header::HeaderName::from_bytes(u.0.as_bytes()).expect("static header name");
                    let outcome = match conn.get(path, &[(name, &u.1)]).await {
                        Ok(r) if r.status == 200 => Ok(()),
                        Ok(r) => Err(r.describe()),
                        Err(e) => Err(format!("{e:#}")),
                    };
                    (conn, u, outcome)
                },
            )
            .await;
            rows.push(Row::new(mode.name(), "resource-server", count, &measured));
        }
    }
    Ok(rows)
}
