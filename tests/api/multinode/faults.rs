//! Faults under load. PostgreSQL restarted, and stopped for a while, under a steady load
//! of refreshes and page views on every node: answers in the outage are 503 (OAuth
//! endpoints `temporarily_unavailable` JSON), never 500; every node serves again by itself
//! when the database is back; and no token answered 2xx is lost. These run on a
//! PostgreSQL of their own (`PrivatePostgres`), never the shared one. And a node killed
//! with SIGKILL under load loses nothing another node acknowledged.
//!
//! Every load loop is bounded in iterations and time; the test fails with what it saw
//! (per phase, endpoint, node and status) rather than hanging.

use super::cluster::{futures_join_all, tail, Cluster, Options, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PHASES: [&str; 5] = [
    "before",
    "during `pg_ctl restart`",
    "after the restart",
    "PostgreSQL stopping, then stopped",
    "after PostgreSQL started again",
];
const BEFORE: usize = 0;
const RESTARTING: usize = 1;
const RESTARTED: usize = 2;
const DOWN: usize = 3;
const BACK: usize = 4;

/// Refresh chains under load, and the most iterations each may run.
const CHAINS: usize = 4;
const MAX_ITERATIONS: usize = 600;
/// The whole load may not run longer than this.
const LOAD_DEADLINE: Duration = Duration::from_secs(75);

/// What the load saw: answers counted by phase, endpoint, node and status, and the
/// answers that are wrong whatever the phase (a 500, a 503 without the OAuth error, …).
#[derive(Default)]
struct Record {
    phase: AtomicUsize,
    counts: Mutex<BTreeMap<(usize, String), usize>>,
    problems: Mutex<Vec<String>>,
}

impl Record {
    fn phase(&self) -> usize {
        self.phase.load(Ordering::SeqCst)
    }

    fn problem(&self, what: String) {
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 30 {
            problems.push(what);
        }
    }

    /// Counts one answer (None: no answer at all) and judges it.
    fn note(&self, phase: usize, endpoint: &str, node: &str, oauth: bool, answer: Option<(u16, &str)>) {
        let key = match answer {
            Some((status, _)) => format!("{endpoint} @{node} → {status}"),
            None => format!("{endpoint} @{node} → no answer"),
        };
        *self.counts.lock().unwrap().entry((phase, key)).or_default() += 1;
        let Some((status, body)) = answer else {
            self.problem(format!(
                "[{}] {endpoint} at node {node}: no answer (connection failed or timed out)",
                PHASES[phase]
            ));
            return;
        };
        let snippet: String = body.chars().take(300).collect();
        if status >= 500 && status != 503 {
            self.problem(format!(
                "[{}] {endpoint} at node {node}: {status} {snippet}",
                PHASES[phase]
            ));
        } else if status == 503 && oauth {
            let error = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string));
            if error.as_deref() != Some("temporarily_unavailable") {
                self.problem(format!(
                    "[{}] {endpoint} at node {node}: 503 without the OAuth error temporarily_unavailable: {snippet}",
                    PHASES[phase]
                ));
            }
        }
    }

    /// How many answers in `phase` had each status, per endpoint and node.
    fn summary(&self) -> String {
        let counts = self.counts.lock().unwrap();
        let mut out = String::new();
        for (phase, name) in PHASES.iter().enumerate() {
            let lines: Vec<String> = counts
                .iter()
                .filter(|((p, _), _)| *p == phase)
                .map(|((_, k), n)| format!("    {k}: {n}"))
                .collect();
            if !lines.is_empty() {
                out.push_str(&format!("  {name}:\n{}\n", lines.join("\n")));
            }
        }
        out
    }

    /// Answers seen in `phase` from node `node` with one of `statuses`.
    fn seen(&self, phase: usize, node: &str, statuses: &[u16]) -> usize {
        let counts = self.counts.lock().unwrap();
        counts
            .iter()
            .filter(|((p, k), _)| {
                *p == phase
                    && k.contains(&format!("@{node} "))
                    && statuses.iter().any(|s| k.ends_with(&format!("→ {s}")))
            })
            .map(|(_, n)| n)
            .sum()
    }
}

/// A refresh token chain: what it was last given, and the access tokens it got.
struct Chain {
    worker: usize,
    refresh_token: String,
    /// Node index, phase and access token of every 2xx answer.
    acknowledged: Vec<(usize, usize, String)>,
    lost: Option<String>,
}

/// Refreshes one chain over and over, each time on the next node, until stopped.
async fn refresh_load(cluster: Arc<Cluster>, mut chain: Chain, record: Arc<Record>, stop: Arc<AtomicBool>) -> Chain {
    let started = Instant::now();
    for i in 0..MAX_ITERATIONS {
        if stop.load(Ordering::SeqCst) || started.elapsed() > LOAD_DEADLINE {
            break;
        }
        let at = chain.worker + i;
        let node = cluster.node(at).name;
        let phase = record.phase();
        match cluster.refresh(at, &chain.refresh_token).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                record.note(phase, "POST /token (refresh)", node, true, Some((status, &body)));
                if status == 200 {
                    let tokens: Value = serde_json::from_str(&body).unwrap_or_default();
                    chain.refresh_token = tokens["refresh_token"].as_str().unwrap_or_default().to_string();
                    let access = tokens["access_token"].as_str().unwrap_or_default().to_string();
                    chain.acknowledged.push((at % cluster.nodes.len(), phase, access));
                } else if status == 400 {
                    chain.lost = Some(format!(
                        "[{}] chain {}: node {node} refused the refresh token it was last given (answered 2xx): {body}",
                        PHASES[phase], chain.worker
                    ));
                    break;
                }
            }
            Err(e) => {
                record.note(phase, "POST /token (refresh)", node, true, None);
                record.problem(format!("[{}] refresh at node {node}: {e}", PHASES[phase]));
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    chain
}

/// Page views and introspections on every node in turn, until stopped.
async fn probe_load(cluster: Arc<Cluster>, visitor: Arc<Visitor>, record: Arc<Record>, stop: Arc<AtomicBool>) {
    let started = Instant::now();
    for i in 0..MAX_ITERATIONS {
        if stop.load(Ordering::SeqCst) || started.elapsed() > LOAD_DEADLINE {
            break;
        }
        let node = cluster.node(i);
        let phase = record.phase();
        match visitor.get(node, "/account").await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                record.note(phase, "GET /account", node.name, false, Some((status, &body)));
            }
            Err(_) => record.note(phase, "GET /account", node.name, false, None),
        }
        match cluster.client_post(i, "/introspect", &[("token", "not-a-token")]).await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                record.note(phase, "POST /introspect", node.name, true, Some((status, &body)));
            }
            Err(_) => record.note(phase, "POST /introspect", node.name, true, None),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits (bounded by `limit`) until `done` holds; false if it never did.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_and_outage_under_load_answer_503_never_500_and_lose_no_token() {
    let options = Options {
        nodes: 2,
        private_postgres: true,
        ..Options::default()
    };
    let Some(cluster) = Cluster::start(options).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    let n = cluster.nodes.len();
    let record = Arc::new(Record::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut wrong: Vec<String> = Vec::new();

    // Token chains (each its own browser), and a signed-in browser for page views.
    let mut chains = Vec::new();
    for worker in 0..CHAINS {
        let tokens = cluster.tokens(&cluster.visitor(), worker, worker + 1).await;
        chains.push(Chain {
            worker,
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_string(),
            acknowledged: vec![],
            lost: None,
        });
    }
    let browser = Arc::new(cluster.visitor());
    assert_eq!(
        browser
            .log_in(cluster.node(0), cluster.node(1), "alice", crate::helpers::PASSWORD)
            .await
            .unwrap(),
        303
    );

    let refreshes: Vec<_> = chains
        .into_iter()
        .map(|chain| tokio::spawn(refresh_load(cluster.clone(), chain, record.clone(), stop.clone())))
        .collect();
    let probes = tokio::spawn(probe_load(
        cluster.clone(),
        browser.clone(),
        record.clone(),
        stop.clone(),
    ));
    let served = |phase: usize| (0..n).all(|i| record.seen(phase, cluster.node(i).name, &[200]) >= 2);
    if !until(Duration::from_secs(20), || served(BEFORE)).await {
        wrong.push("the load never got going before the outage".into());
    }

    // 1. `pg_ctl restart -m fast` under load.
    let pg = cluster.postgres.as_ref().expect("private PostgreSQL");
    record.phase.store(RESTARTING, Ordering::SeqCst);
    tokio::task::block_in_place(|| pg.restart());
    record.phase.store(RESTARTED, Ordering::SeqCst);
    if !until(Duration::from_secs(30), || served(RESTARTED)).await {
        wrong.push(format!(
            "30 s after PostgreSQL restarted, not every node serves again by itself (answers since: {})",
            record.summary()
        ));
    }

    // 2. PostgreSQL down for a while: every node keeps answering, 503 (never 500).
    record.phase.store(DOWN, Ordering::SeqCst);
    tokio::task::block_in_place(|| pg.stop());
    let outage = Instant::now();
    // On every node at once: an OAuth endpoint and a page that need the database.
    let probes_down = (0..n).map(|i| {
        let (cluster, browser, record) = (cluster.clone(), browser.clone(), record.clone());
        async move {
            let node = cluster.node(i);
            let mut wrong = Vec::new();
            match cluster.refresh(i, "unknown-refresh-token").await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    record.note(
                        DOWN,
                        "POST /token (unknown token)",
                        node.name,
                        true,
                        Some((status, &body)),
                    );
                    if status != 503 {
                        wrong.push(format!(
                            "node {}: POST /token answered {status} with PostgreSQL down: {body}",
                            node.name
                        ));
                    }
                }
                Err(e) => wrong.push(format!(
                    "node {}: POST /token got no answer with PostgreSQL down: {e}",
                    node.name
                )),
            }
            match browser.get(node, "/account").await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let kind = r.headers().get(reqwest::header::CONTENT_TYPE).cloned();
                    let html = kind
                        .as_ref()
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("text/html"));
                    if status == 503 && !html {
                        let body = r.text().await.unwrap_or_default();
                        wrong.push(format!(
                            "node {}: GET /account with PostgreSQL down answered 503 as {kind:?}, not a page (text/html): {}",
                            node.name,
                            tail(&body, 3)
                        ));
                    } else if status != 503 {
                        let body = r.text().await.unwrap_or_default();
                        wrong.push(format!(
                            "node {}: GET /account answered {status} with PostgreSQL down: {}",
                            node.name,
                            tail(&body, 5)
                        ));
                    }
                }
                Err(e) => wrong.push(format!(
                    "node {}: GET /account got no answer with PostgreSQL down: {e}",
                    node.name
                )),
            }
            wrong
        }
    });
    let explicit: Vec<String> = futures_join_all(probes_down.collect::<Vec<_>>())
        .await
        .into_iter()
        .flatten()
        .collect();
    wrong.extend(explicit);
    // The load sees the outage on every node (bounded), for at least two seconds.
    let saw_outage = |record: &Record| (0..n).all(|i| record.seen(DOWN, cluster.node(i).name, &[503]) >= 1);
    if !until(Duration::from_secs(25), || {
        saw_outage(&record) && outage.elapsed() > Duration::from_secs(2)
    })
    .await
    {
        let quiet: Vec<&str> = (0..n)
            .filter(|i| record.seen(DOWN, cluster.node(*i).name, &[503]) == 0)
            .map(|i| cluster.node(i).name)
            .collect();
        wrong.push(format!(
            "with PostgreSQL stopped for 25 s the load got no 503 from nodes {quiet:?}"
        ));
    }

    // 3. PostgreSQL back: every node serves again by itself.
    tokio::task::block_in_place(|| pg.start_again());
    record.phase.store(BACK, Ordering::SeqCst);
    if !until(Duration::from_secs(30), || served(BACK)).await {
        let silent: Vec<&str> = (0..n)
            .filter(|i| record.seen(BACK, cluster.node(*i).name, &[200]) < 2)
            .map(|i| cluster.node(i).name)
            .collect();
        wrong.push(format!(
            "30 s after PostgreSQL came back, nodes {silent:?} still do not serve (they were not restarted)"
        ));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = probes.await;
    let mut chains = Vec::new();
    for handle in refreshes {
        chains.push(handle.await.expect("refresh load"));
    }

    // 4. Nothing acknowledged is lost: every access token answered 2xx is still active at
    //    the node that signed it, and every chain's last refresh token still refreshes.
    for chain in &chains {
        if let Some(lost) = &chain.lost {
            wrong.push(lost.clone());
            continue;
        }
        let mut inactive = BTreeMap::<&str, usize>::new();
        for (at, phase, access) in &chain.acknowledged {
            if cluster.active(*at, access).await != Ok(true) {
                *inactive.entry(PHASES[*phase]).or_default() += 1;
            }
        }
        if !inactive.is_empty() {
            wrong.push(format!(
                "chain {}: access tokens answered 2xx are no longer active (count by the phase they were issued in): {inactive:?}",
                chain.worker
            ));
        }
        let response = cluster.refresh(0, &chain.refresh_token).await;
        match response {
            Ok(r) if r.status() == 200 => {}
            Ok(r) => wrong.push(format!(
                "chain {}: its last acknowledged refresh token no longer refreshes: {} {}",
                chain.worker,
                r.status(),
                r.text().await.unwrap_or_default()
            )),
            Err(e) => wrong.push(format!("chain {}: final refresh got no answer: {e}", chain.worker)),
        }
    }
    wrong.extend(record.problems.lock().unwrap().iter().cloned());
    assert!(
        wrong.is_empty(),
        "PostgreSQL restarted and stopped under load:\n- {}\nanswers seen:\n{}\n{}",
        wrong.join("\n- "),
        record.summary(),
        cluster.logs()
    );
}

/// While PostgreSQL is down the process is alive (`/healthz` 200) but not ready
/// (`/readyz` 503), so a load balancer takes it out of rotation without restarting it;
/// once the database is back `/readyz` is green again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_red_and_healthz_stays_green_while_postgres_is_down() {
    let options = Options {
        nodes: 2,
        private_postgres: true,
        ..Options::default()
    };
    let Some(cluster) = Cluster::start(options).await else {
        return;
    };
    let pg = cluster.postgres.as_ref().expect("private PostgreSQL");
    let mut wrong = Vec::new();
    wrong.extend(health(&cluster, "PostgreSQL up", [("/healthz", "200"), ("/readyz", "200")]).await);
    tokio::task::block_in_place(|| pg.stop());
    wrong.extend(health(&cluster, "PostgreSQL down", [("/healthz", "200"), ("/readyz", "503")]).await);
    tokio::task::block_in_place(|| pg.start_again());
    // Back within seconds (bounded); a 404 will not change by waiting.
    let mut after = Vec::new();
    for _ in 0..50 {
        after = health(&cluster, "PostgreSQL back (waited up to 10 s)", [("/readyz", "200")]).await;
        if after.is_empty() || after.iter().all(|w| w.contains("answered 404")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wrong.extend(after);
    assert!(wrong.is_empty(), "health endpoints:\n- {}", wrong.join("\n- "));
}

/// Each node's answers to `checks` (path, expected status), asked of all nodes at once:
/// what differs from the expected.
async fn health<const N: usize>(
    cluster: &Cluster,
    when: &'static str,
    checks: [(&'static str, &'static str); N],
) -> Vec<String> {
    let asks = (0..cluster.nodes.len()).map(|at| {
        let (http, base, name) = (
            cluster.http.clone(),
            cluster.node(at).base.clone(),
            cluster.node(at).name,
        );
        async move {
            let mut wrong = Vec::new();
            for (path, expected) in checks {
                let got = match http.get(format!("{base}{path}")).send().await {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(e) => format!("no answer ({e})"),
                };
                if got != expected {
                    wrong.push(format!(
                        "node {name}, {when}: {path} answered {got}, expected {expected}"
                    ));
                }
            }
            wrong
        }
    });
    futures_join_all(asks.collect::<Vec<_>>())
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// What one sign-in through the cluster left, once every hop was answered.
struct Acknowledged {
    by: &'static str,
    after_kill: bool,
    refresh_token: String,
    visitor: Visitor,
}

/// Sign-ins (their hops alternating between A and B) and code exchanges under load,
/// every other code redeemed at C while it lives; C is killed with SIGKILL once some are
/// done, with others in flight. Everything a node acknowledged, C included, is still there
/// on A and B: each session signs its browser in and each refresh token is active.
/// (Checked through the database alone, so the per-node signing keys of today's code do
/// not decide it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_with_sigkill_under_load_loses_nothing_another_node_acknowledged() {
    const WORKERS: usize = 4;
    const PER_WORKER: usize = 12;
    const VICTIM: usize = 2;
    let Some(cluster) = Cluster::start(Options::default()).await else {
        return;
    };
    let mut cluster = cluster;
    // C is taken out of the rotation of sign-in pages: it redeems every other code until
    // it dies, and the workers route around it once `dead` is set.
    let mut victim = cluster.nodes.remove(VICTIM);
    let victim_base = victim.base.clone();
    let cluster = Arc::new(cluster);
    let dead = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();

    let work = (0..WORKERS).map(|w| {
        let (cluster, dead, done, problems) = (cluster.clone(), dead.clone(), done.clone(), problems.clone());
        let victim_base = victim_base.clone();
        async move {
            let mut acked: Vec<Acknowledged> = Vec::new();
            let started = Instant::now();
            for i in 0..PER_WORKER {
                if started.elapsed() > LOAD_DEADLINE {
                    break;
                }
                // Every other sign-in is redeemed at C while it lives.
                let to_victim = i % 2 == 0 && !dead.load(Ordering::SeqCst);
                let visitor = cluster.visitor();
                let (path, verifier) = cluster.authorize_path(&[]);
                let first = w + i;
                let to = match visitor.sign_in(&cluster, &path, "alice", first).await {
                    Ok(to) => to,
                    Err(e) => {
                        problems
                            .lock()
                            .unwrap()
                            .push(format!("worker {w}: sign-in on A/B failed: {e}"));
                        continue;
                    }
                };
                let Some(code) = crate::helpers::query_param(&to, "code") else {
                    problems.lock().unwrap().push(format!("worker {w}: no code: {to}"));
                    continue;
                };
                let form = [
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", cluster.client.redirect_uri.as_str()),
                    ("code_verifier", verifier.as_str()),
                ];
                let (by, response) = if to_victim {
                    let r = cluster
                        .http
                        .post(format!("{victim_base}/token"))
                        .basic_auth(&cluster.client.id, cluster.client.secret.as_deref())
                        .form(&form)
                        .send()
                        .await;
                    ("C", r)
                } else {
                    let at = w + i + 1;
                    (cluster.node(at).name, cluster.client_post(at, "/token", &form).await)
                };
                match response {
                    Ok(r) if r.status() == 200 => {
                        let tokens: Value = r.json().await.unwrap_or_default();
                        acked.push(Acknowledged {
                            by,
                            after_kill: dead.load(Ordering::SeqCst),
                            refresh_token: tokens["refresh_token"].as_str().unwrap_or_default().to_string(),
                            visitor,
                        });
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) if r.status().is_server_error() => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        problems
                            .lock()
                            .unwrap()
                            .push(format!("worker {w}: code exchange at node {by}: {status} {body}"));
                    }
                    // C died with this one in flight: not acknowledged, so in doubt.
                    Ok(_) | Err(_) => {}
                }
            }
            acked
        }
    });
    let work: Vec<_> = work.collect();
    let workers = tokio::spawn(futures_join_all(work));
    // Kill C once a few sign-ins are through, while the rest are in flight.
    until(Duration::from_secs(40), || done.load(Ordering::SeqCst) >= WORKERS * 2).await;
    victim.kill();
    dead.store(true, Ordering::SeqCst);
    let acked: Vec<Acknowledged> = workers.await.expect("workers").into_iter().flatten().collect();

    let mut wrong: Vec<String> = problems.lock().unwrap().clone();
    let by_victim = acked.iter().filter(|a| a.by == "C").count();
    let after_kill = acked.iter().filter(|a| a.after_kill).count();
    assert!(
        by_victim > 0 && after_kill > 0,
        "the load did not straddle the kill: {} acknowledged, {by_victim} of them by C, {after_kill} after the kill",
        acked.len()
    );
    for (k, a) in acked.iter().enumerate() {
        for at in 0..cluster.nodes.len() {
            let node = cluster.node(at);
            match a.visitor.account_status(node).await {
                Ok(200) => {}
                Ok(status) => wrong.push(format!(
                    "sign-in #{k} (code redeemed by node {}): its session cookie gets {status} on node {}, not the account page",
                    a.by, node.name
                )),
                Err(e) => wrong.push(e),
            }
            match cluster.active(at, &a.refresh_token).await {
                Ok(true) => {}
                Ok(false) => wrong.push(format!(
                    "sign-in #{k}: the refresh token node {} answered 200 with is inactive at node {}",
                    a.by, node.name
                )),
                Err(e) => wrong.push(e),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "after SIGKILL of node C under load ({} sign-ins acknowledged, {by_victim} by C, {after_kill} after the kill):\n- {}\n{}\n----- node C (killed) -----\n{}",
        acked.len(),
        wrong.join("\n- "),
        cluster.logs(),
        tail(&victim.logs(), 40)
    );
}
