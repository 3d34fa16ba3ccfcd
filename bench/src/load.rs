//! The load loop: a fixed number of virtual users, each on its own keep-alive connection,
//! each repeating one operation as fast as the server answers. A warm-up is run and
//! discarded; then every operation's latency goes into an HDR histogram. Every loop is
//! bounded by time and by count.

use crate::conn::Conn;
use crate::procstat::ProcSample;
use hdrhistogram::Histogram;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Upper bound on operations per virtual user, whatever the speed.
    pub max_ops_per_user: u64,
    /// When set, each virtual user starts one operation per `pace` (a caller at a steady
    /// rate) instead of one right after another.
    pub pace: Option<Duration>,
}

/// What one scenario run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latency per operation, in microseconds.
    pub latency: Histogram<u64>,
    /// Server CPU over the measured window, in cores (1.0 = one core busy).
    pub server_cpu: f64,
    /// Server resident memory at the end of the window, in MiB.
    pub server_rss_mib: f64,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Runs `op` for every user in `users` (one virtual user each) under `plan` against
/// `addr`, sampling the server process `pid`. `op` gets the connection and the user's
/// state by value and hands both back with the outcome.
pub async fn run<U, F, Fut>(plan: Plan, addr: SocketAddr, pid: u32, users: Vec<U>, op: F) -> Measured
where
    U: Send + 'static,
    F: Fn(Conn, U) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = (Conn, U, Result<(), String>)> + Send + 'static,
{
    assert!(!users.is_empty(), "a load needs at least one virtual user");
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut tasks = Vec::with_capacity(users.len());
    for user in users.into_iter().take(plan.concurrency) {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut user = user;
            let mut latency = histogram();
            let (mut ops, mut errors, mut first_error) = (0u64, 0u64, None);
            for _ in 0..plan.max_ops_per_user {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let (c, u, outcome) = op(conn, user).await;
                let took = began.elapsed();
                (conn, user) = (c, u);
                if let Some(pace) = plan.pace {
                    tokio::time::sleep_until((began + pace).into()).await;
                }
                if began < measure_from {
                    continue;
                }
                ops += 1;
                let _ = latency.record((took.as_micros() as u64).max(1));
                if let Err(e) = outcome {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (ops, errors, first_error, latency)
        }));
    }
    // Sample the server once the warm-up is over.
    tokio::time::sleep_until(measure_from.into()).await;
    let before = ProcSample::take(pid);
    let window_start = Instant::now();
    let mut measured = Measured {
        ops: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latency: histogram(),
        server_cpu: 0.0,
        server_rss_mib: 0.0,
    };
    tokio::time::sleep_until(end.into()).await;
    let after = ProcSample::take(pid);
    for task in tasks {
        match task.await {
            Ok((ops, errors, first_error, latency)) => {
                measured.ops += ops;
                measured.errors += errors;
                if measured.first_error.is_none() {
                    measured.first_error = first_error;
                }
                measured.latency.add(latency).expect("same histogram bounds");
            }
            Err(e) => {
                measured.errors += 1;
                measured.first_error.get_or_insert(format!("virtual user crashed: {e}"));
            }
        }
    }
    // Operations that started before `end` finish after it; count the whole window.
    measured.elapsed = window_start.elapsed().max(plan.duration);
    if let (Some(b), Some(a)) = (before, after) {
        measured.server_cpu = a.cpu_seconds_since(&b) / a.at.duration_since(b.at).as_secs_f64().max(1e-9);
        measured.server_rss_mib = a.rss_mib;
    }
    measured
}
