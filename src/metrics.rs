//! Prometheus metrics (the `prometheus` crate). Each server owns its registry, so several
//! servers in one process (the tests) count apart, and nothing here is global.
//!
//! Counters move where the thing happens; the gauges that describe state (outbox depth,
//! pool use, key age) are read from their source when `/metrics` is scraped.
//! Label values come from short fixed sets (route patterns, not paths), so a client
//! cannot create series at will.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// route (the pattern, or `unmatched`), method, status.
    pub http_requests: IntCounterVec,
    /// route: seconds from the request reaching the router to the response head.
    pub http_duration: HistogramVec,
    /// grant_type.
    pub tokens_issued: IntCounterVec,
    /// method (`password`, `totp`, `recovery_code`, `passkey`, `upstream`), outcome
    /// (`success`, `failure`, `locked`).
    pub sign_ins: IntCounterVec,
    pub refresh_token_reuse: IntCounter,
    /// action: the limiter bucket that refused (`login`, `signup`, `authorize`, …).
    pub rate_limited: IntCounterVec,
    /// queue (`mail`, `backchannel`), outcome (`retry`, `given_up`).
    pub outbox_failures: IntCounterVec,
    /// queue: rows waiting, read at scrape.
    pub outbox_pending: IntGaugeVec,
    /// Seconds a password check waited for a free hasher.
    pub hash_wait: Histogram,
    /// state (`idle`, `in_use`): this instance's database connections, read at scrape.
    pub db_connections: IntGaugeVec,
    /// 1 when this instance's last scrape could query the database, else 0 (its errors
    /// reach users as 503s, counted in `http_requests_total`).
    pub db_up: IntGauge,
    /// Age in seconds of the key signing tokens now, read at scrape.
    pub signing_key_age: IntGauge,
    /// kind (`database_unavailable`, `internal`): requests answered with our own failure.
    pub server_errors: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("gatehouse".into()), None)?;
        let counter_vec = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<IntCounterVec> {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<IntGaugeVec> {
            let metric = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        registry.register(Box::new(http_duration.clone()))?;
        let hash_wait = Histogram::with_opts(
            HistogramOpts::new(
                "password_hash_wait_seconds",
                "Time a password hash or check waited for a free hasher thread.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(hash_wait.clone()))?;
        let refresh_token_reuse = IntCounter::new(
            "refresh_token_reuse_total",
            "Rotated-out refresh tokens presented again (their families were revoked).",
        )?;
        registry.register(Box::new(refresh_token_reuse.clone()))?;
        let db_up = IntGauge::new(
            "database_up",
            "1 when the database answered at the last scrape, else 0.",
        )?;
        registry.register(Box::new(db_up.clone()))?;
        let signing_key_age = IntGauge::new("signing_key_age_seconds", "Age of the key signing tokens now.")?;
        registry.register(Box::new(signing_key_age.clone()))?;
        let metrics = Metrics {
            http_requests: counter_vec(
                "http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
                &["route", "method", "status"],
            )?,
            tokens_issued: counter_vec(
                "tokens_issued_total",
                "Token responses issued, by grant type.",
                &["grant_type"],
            )?,
            sign_ins: counter_vec(
                "sign_ins_total",
                "Sign-in steps, by method and outcome.",
                &["method", "outcome"],
            )?,
            rate_limited: counter_vec(
                "rate_limited_total",
                "Requests refused by a rate limit, by action.",
                &["action"],
            )?,
            outbox_failures: counter_vec(
                "outbox_failures_total",
                "Failed deliveries from an outbox, by queue and whether they will be retried.",
                &["queue", "outcome"],
            )?,
            outbox_pending: gauge_vec(
                "outbox_pending",
                "Deliveries waiting in an outbox, by queue.",
                &["queue"],
            )?,
            db_connections: gauge_vec(
                "database_connections",
                "This instance's database connections, by state.",
                &["state"],
            )?,
            server_errors: counter_vec(
                "server_errors_total",
                "Requests answered 503 because the database was unavailable, or 500, by kind.",
                &["kind"],
            )?,
            http_duration,
            hash_wait,
            refresh_token_reuse,
            db_up,
            signing_key_age,
            registry,
        };
        metrics.start_at_zero();
        Ok(metrics)
    }

    /// Creates the series whose labels are known in advance, at zero: a dashboard's
    /// `rate()` then sees a counter from its start rather than from its first event.
    fn start_at_zero(&self) {
        for grant in [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            crate::clients::DEVICE_CODE_GRANT,
        ] {
            self.tokens_issued.with_label_values(&[grant]);
        }
        for method in ["password", "totp", "recovery_code", "passkey", "upstream"] {
            for outcome in ["success", "failure"] {
                self.sign_ins.with_label_values(&[method, outcome]);
            }
        }
        self.sign_ins.with_label_values(&["password", "locked"]);
        self.sign_ins.with_label_values(&["second_factor", "locked"]);
        for queue in ["mail", "backchannel"] {
            self.outbox_pending.with_label_values(&[queue]);
            for outcome in ["retry", "given_up"] {
                self.outbox_failures.with_label_values(&[queue, outcome]);
            }
        }
        for state in ["idle", "in_use"] {
            self.db_connections.with_label_values(&[state]);
        }
        for kind in ["database_unavailable", "internal"] {
            self.server_errors.with_label_values(&[kind]);
        }
    }

    /// Counts a sign-in step.
    pub fn sign_in(&self, method: &str, outcome: &str) {
        self.sign_ins.with_label_values(&[method, outcome]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}

/// Adds one outbox pass's failures to `counter` under `queue`.
pub fn count_failures(counter: &IntCounterVec, queue: &str, failures: crate::outbox::Failures) {
    counter.with_label_values(&[queue, "retry"]).inc_by(failures.retry);
    counter
        .with_label_values(&[queue, "given_up"])
        .inc_by(failures.given_up);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_named_under_gatehouse_and_encodes() {
        let metrics = Metrics::new().unwrap();
        metrics.sign_in("password", "success");
        metrics.tokens_issued.with_label_values(&["refresh_token"]).inc();
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("gatehouse_sign_ins_total{method=\"password\",outcome=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gatehouse_tokens_issued_total{grant_type=\"refresh_token\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE gatehouse_refresh_token_reuse_total counter"),
            "{text}"
        );
    }
}
