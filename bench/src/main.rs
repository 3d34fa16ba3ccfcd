//! gatehouse-bench: Gatehouse under load beside the machine's physical limits and a
//! certified peer, all in one run (this machine's speed drifts too much for numbers
//! from different runs to be compared). See bench/README.md.

mod bounds;
mod charts;
mod conn;
mod gatehouse;
mod load;
mod peer;
mod prepare;
mod procstat;
mod report;
mod resource;
mod results;
mod scenarios;
mod target;

use clap::Parser;
use load::Plan;
use results::{BoundsRow, Flood, Machine, Row, Run};
use scenarios::{Scenario, VUser};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use target::Target;

/// Workspace root, for the default binary and output paths.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[derive(Parser, Debug)]
#[command(about = "Load benchmark: Gatehouse beside the RS256/argon2 bounds and oidc-provider")]
struct Args {
    /// About one second per scenario: checks that everything runs, measures nothing.
    #[arg(long)]
    quick: bool,
    /// Run Gatehouse on this (empty) PostgreSQL database instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// The Gatehouse binary [default: target/release/gatehouse].
    #[arg(long)]
    gatehouse_bin: Option<PathBuf>,
    /// The example resource server binary [default: target/release/resource-server].
    #[arg(long)]
    resource_server_bin: Option<PathBuf>,
    /// Skip panva's oidc-provider (needs node and npm).
    #[arg(long)]
    no_peer: bool,
    /// Where REPORT.md, results.json and the charts go [default: bench/results, or
    /// target/bench-quick with --quick].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Warm-up seconds per scenario, not measured.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Also run an earlier Gatehouse binary, each scenario right after the current one, and
    /// report current / earlier: an optimisation's before/after ratio within one run.
    #[arg(long)]
    before_bin: Option<PathBuf>,
    /// Run only these scenarios (comma-separated names; `flood` and `resource_server`
    /// name those parts) [default: all].
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == part)
    }
}

struct Timing {
    plan: Plan,
    bounds: Duration,
}

impl Timing {
    fn of(args: &Args) -> Timing {
        let (warmup, duration, bounds) = if args.quick {
            (
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(1),
            )
        } else {
            (
                Duration::from_secs(args.warmup),
                Duration::from_secs(args.duration),
                Duration::from_secs(4),
            )
        };
        Timing {
            plan: Plan {
                concurrency: 1,
                warmup,
                duration,
                max_ops_per_user: 5_000_000,
                pace: None,
            },
            bounds,
        }
    }
}

async fn scenario(s: Scenario, target: &Arc<Target>, plan: Plan, concurrency: usize) -> Row {
    let plan = Plan { concurrency, ..plan };
    let users = scenarios::virtual_users(target, concurrency);
    let measured = load::run(
        plan,
        target.addr,
        target.pid,
        users,
        move |mut conn, mut v: VUser| async move {
            let outcome = scenarios::once(s, &mut conn, &mut v).await;
            (conn, v, outcome)
        },
    )
    .await;
    let row = Row::new(s.name(), &target.name, concurrency, &measured);
    println!(
        "{:>18} {:<20} {:>9.1} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}",
        target.name,
        s.name(),
        row.per_sec,
        row.p50_ms,
        row.p99_ms,
        row.errors,
        row.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    row
}

/// Run order: userinfo before refresh, whose rotation leaves the prepared refresh tokens
/// used; every scenario that the target offers.
const ORDER: [Scenario; 9] = [
    Scenario::Discovery,
    Scenario::Jwks,
    Scenario::ClientCredentials,
    Scenario::SsoLoop,
    Scenario::Userinfo,
    Scenario::Introspection,
    Scenario::Refresh,
    Scenario::SignupPage,
    Scenario::PasswordLogin,
];

/// Every wanted scenario on each target in turn, so targets compared with each other run
/// minutes, not seconds, apart.
async fn all_scenarios(args: &Args, targets: &[Arc<Target>], plan: Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    for s in ORDER.into_iter().filter(|s| args.wants(s.name())) {
        for target in targets.iter().filter(|t| s.applies_to(t)) {
            rows.push(scenario(s, target, plan, s.concurrency()).await);
        }
    }
    rows
}

/// Password logins at full speed while a discovery caller and a client_credentials caller
/// each send one request every 10 ms on 4 connections.
async fn flood(target: &Arc<Target>, plan: Plan) -> Flood {
    let probe = Plan {
        pace: Some(Duration::from_millis(10)),
        ..plan
    };
    let (logins, discovery, client_credentials) = tokio::join!(
        scenario(
            Scenario::PasswordLogin,
            target,
            plan,
            Scenario::PasswordLogin.concurrency()
        ),
        scenario(Scenario::Discovery, target, probe, 4),
        scenario(Scenario::ClientCredentials, target, probe, 4),
    );
    Flood {
        logins,
        discovery,
        client_credentials,
    }
}

async fn bounds(timing: &Timing) -> anyhow::Result<BoundsRow> {
    let duration = timing.bounds;
    let b = tokio::task::spawn_blocking(move || bounds::measure(duration)).await??;
    println!(
        "bounds: RS256 {:.0} signatures/s, argon2id {:.1} hashes/s on {} threads",
        b.rs256_per_sec, b.argon2_per_sec, b.threads
    );
    Ok(b.into())
}

fn idle_rss(pid: u32) -> f64 {
    std::thread::sleep(Duration::from_millis(500));
    procstat::ProcSample::take(pid).map(|s| s.rss_mib).unwrap_or(0.0)
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["-C", ROOT, "rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The name an earlier binary's rows carry.
pub const BEFORE: &str = "gatehouse (before)";

/// The largest number of virtual users any scenario needs its own state for.
const PREPARED_USERS: usize = 32;

async fn bench(args: Args) -> anyhow::Result<Run> {
    let timing = Timing::of(&args);
    let root = PathBuf::from(ROOT);
    let gatehouse_bin = args
        .gatehouse_bin
        .clone()
        .unwrap_or(root.join("target/release/gatehouse"));
    let rs_bin = args
        .resource_server_bin
        .clone()
        .unwrap_or(root.join("target/release/resource-server"));

    // Fail before minutes of load, not after them.
    for bin in [Some(&gatehouse_bin), Some(&rs_bin), args.before_bin.as_ref()]
        .into_iter()
        .flatten()
    {
        if !bin.exists() {
            anyhow::bail!(
                "no binary at {} (build it first: `cargo build --release`, or name it with --gatehouse-bin, --resource-server-bin or --before-bin)",
                bin.display()
            );
        }
    }
    let bounds_before = bounds(&timing).await?;
    let server = gatehouse::Server::start(&gatehouse_bin, args.database_url.as_deref()).await?;
    // Idle twice: as started, and settled after the preparation's 32 sign-ins (each
    // argon2 hash takes 19 MiB for a moment; what the allocator keeps of it shows here).
    let mut idle = vec![("gatehouse, as started".to_string(), idle_rss(server.pid()))];
    let target = Arc::new(server.prepare(PREPARED_USERS).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    idle.push(("gatehouse, after 32 sign-ins".to_string(), idle_rss(target.pid)));
    let before = match &args.before_bin {
        Some(bin) => Some(gatehouse::Server::start(bin, None).await?),
        None => None,
    };
    let mut targets = vec![target.clone()];
    if let Some(before) = &before {
        let mut t = before.prepare(PREPARED_USERS).await?;
        t.name = BEFORE.into();
        idle.push((BEFORE.into(), idle_rss(t.pid)));
        targets.push(Arc::new(t));
    }
    let mut rows = all_scenarios(&args, &targets, timing.plan).await;
    drop(targets);
    drop(before);
    let flood = match args.wants("flood") {
        true => Some(flood(&target, timing.plan).await),
        false => None,
    };

    let mut peer_name = None;
    if !args.no_peer {
        let peer = peer::Peer::start(PREPARED_USERS).await?;
        let peer_target = Arc::new(peer.target.clone());
        idle.push((peer_target.name.clone(), idle_rss(peer_target.pid)));
        rows.extend(all_scenarios(&args, std::slice::from_ref(&peer_target), timing.plan).await);
        peer_name = Some("panva oidc-provider 9.13.3 (node, one process, in-memory adapter)".to_string());
    }
    let bounds_after = bounds(&timing).await?;

    let mut resource_server = Vec::new();
    if args.wants("resource_server") {
        let rs = resource::ResourceServer::start(&rs_bin, &target).await?;
        let token = prepare::client_credentials(&target).await?;
        resource_server = resource::run(&rs, &target, &token, timing.plan, &[100, 500]).await?;
    }
    for r in &resource_server {
        println!(
            "resource server {:<15} {:>3} users {:>9.1} req/s  p99 {:>7.2} ms  errors {}{}",
            r.scenario,
            r.concurrency,
            r.per_sec,
            r.p99_ms,
            r.errors,
            r.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
    }
    drop(server);

    Ok(Run {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        quick: args.quick,
        unix_time: ::gatehouse::clock::Clock::system().now(),
        commit: commit(),
        database: if args.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
        .into(),
        machine: Machine::this(),
        bounds_before,
        bounds_after,
        idle_rss_mib: idle,
        rows,
        flood,
        resource_server,
        peer: peer_name,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(ROOT).join(if args.quick {
            "target/bench-quick"
        } else {
            "bench/results"
        })
    });
    // One thread for the load: the server under test needs the other cores more.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let run = runtime.block_on(bench(args))?;
    report::write(&run, &out)?;
    println!("report: {}", out.join("REPORT.md").display());
    let failed: Vec<String> = run
        .all_rows()
        .filter(|r| !r.clean())
        .map(|r| format!("{} on {} ({} ops, {} errors)", r.scenario, r.target, r.ops, r.errors))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("scenarios that did not complete cleanly: {}", failed.join("; "));
    }
    Ok(())
}
