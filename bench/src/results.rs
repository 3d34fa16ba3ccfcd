//! What one run measured, as it is written to `results.json` and read by the report.

use crate::bounds::Bounds;
use crate::load::Measured;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub target: String,
    pub concurrency: usize,
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub server_cpu: f64,
    pub server_rss_mib: f64,
}

impl Row {
    pub fn new(scenario: &str, target: &str, concurrency: usize, m: &Measured) -> Row {
        Row {
            scenario: scenario.to_string(),
            target: target.to_string(),
            concurrency,
            ops: m.ops,
            errors: m.errors,
            first_error: m.first_error.clone(),
            per_sec: m.per_second(),
            p50_ms: m.percentile_ms(0.5),
            p99_ms: m.percentile_ms(0.99),
            p999_ms: m.percentile_ms(0.999),
            server_cpu: m.server_cpu,
            server_rss_mib: m.server_rss_mib,
        }
    }

    /// A row that completed: some operations, none failed.
    pub fn clean(&self) -> bool {
        self.ops > 0 && self.errors == 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BoundsRow {
    pub rs256_per_sec: f64,
    pub argon2_per_sec: f64,
    pub threads: usize,
}

impl From<Bounds> for BoundsRow {
    fn from(b: Bounds) -> Self {
        BoundsRow {
            rs256_per_sec: b.rs256_per_sec,
            argon2_per_sec: b.argon2_per_sec,
            threads: b.threads,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
}

impl Machine {
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        Machine {
            cpu_model,
            cores: crate::bounds::cores(),
            kernel,
        }
    }
}

/// The login flood: password logins at full speed, and what a discovery and a
/// client_credentials caller see meanwhile.
#[derive(Debug, Clone, Serialize)]
pub struct Flood {
    pub logins: Row,
    pub discovery: Row,
    pub client_credentials: Row,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub command: String,
    pub quick: bool,
    pub unix_time: i64,
    pub commit: String,
    pub database: String,
    pub machine: Machine,
    pub bounds_before: BoundsRow,
    pub bounds_after: BoundsRow,
    pub idle_rss_mib: Vec<(String, f64)>,
    pub rows: Vec<Row>,
    pub flood: Option<Flood>,
    /// Resource-server modes: scenario = mode, concurrency = users.
    pub resource_server: Vec<Row>,
    pub peer: Option<String>,
}

impl Run {
    pub fn rs256_bound(&self) -> f64 {
        (self.bounds_before.rs256_per_sec + self.bounds_after.rs256_per_sec) / 2.0
    }

    pub fn argon2_bound(&self) -> f64 {
        (self.bounds_before.argon2_per_sec + self.bounds_after.argon2_per_sec) / 2.0
    }

    pub fn row(&self, target: &str, scenario: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.target == target && r.scenario == scenario)
    }

    pub fn all_rows(&self) -> impl Iterator<Item = &Row> {
        let flood = self
            .flood
            .iter()
            .flat_map(|f| [&f.logins, &f.discovery, &f.client_credentials]);
        self.rows.iter().chain(flood).chain(self.resource_server.iter())
    }
}
