//! Delivery with retries, shared by email and back-channel logout: claim each due row,
//! try it, then delete it or reschedule it with exponential backoff, giving up (loudly)
//! after a number of attempts. What "try" means is the caller's.
//!
//! Every instance sharing the database runs this. Each row's lease starts when that row
//! is claimed (not when the pass began), and a try is cut off well before its lease ends,
//! so no other worker can take a row while one is still sending it.

use crate::clock::Clock;
use crate::store::outbox::{Outbox, Queued};
use crate::store::Store;
use std::future::Future;
use std::time::Duration;

pub struct Policy {
    pub outbox: Outbox,
    /// For logs: what is being delivered.
    pub what: &'static str,
    pub max_attempts: i64,
    /// The wait after the first failure; it doubles with each further one, up to `max_backoff_secs`.
    pub base_backoff_secs: i64,
    pub max_backoff_secs: i64,
    pub lease_secs: i64,
}

impl Policy {
    /// The wait before attempt `attempts + 1`.
    fn backoff(&self, attempts: i64) -> i64 {
        (self.base_backoff_secs * (1_i64 << attempts.clamp(0, 16))).min(self.max_backoff_secs)
    }
}

/// The failed tries of one pass: those that will be retried and those given up on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub retry: u64,
    pub given_up: u64,
}

/// Tries each of `rows` once with `send`; returns how many tries failed.
pub async fn deliver<R, F, Fut>(
    store: &Store,
    policy: &Policy,
    rows: Vec<R>,
    clock: &Clock,
    send: F,
) -> Result<Failures, sqlx::Error>
where
    R: Queued,
    F: Fn(R) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut failures = Failures::default();
    for row in rows {
        let id = row.id().to_string();
        let claimed_at = clock.now();
        let lease = claimed_at + policy.lease_secs;
        let Some(before) = store.claim(policy.outbox, &id, claimed_at, lease).await? else {
            continue;
        };
        let attempts = before + 1;
        // Half the lease: a try that hangs ends while the row is still ours.
        let limit = Duration::from_secs((policy.lease_secs / 2).max(1) as u64);
        let outcome = match tokio::time::timeout(limit, send(row)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow::anyhow!("no answer within {} s", limit.as_secs())),
        };
        let now = clock.now();
        match outcome {
            Ok(()) => store.finish(policy.outbox, &id, lease).await?,
            Err(e) if attempts >= policy.max_attempts => {
                tracing::error!(
                    error = format!("{e:#}"),
                    attempts,
                    "{} undeliverable; giving up",
                    policy.what
                );
                store.finish(policy.outbox, &id, lease).await?;
                failures.given_up += 1;
            }
            Err(e) => {
                failures.retry += 1;
                let wait = policy.backoff(attempts);
                tracing::warn!(
                    error = format!("{e:#}"),
                    attempts,
                    retry_in = wait,
                    "{} failed; will retry",
                    policy.what
                );
                store
                    .reschedule(policy.outbox, &id, lease, attempts, now + wait)
                    .await?;
            }
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = Policy {
            outbox: Outbox::Mail,
            what: "mail",
            max_attempts: 5,
            base_backoff_secs: 15,
            max_backoff_secs: 100,
            lease_secs: 60,
        };
        assert_eq!(policy.backoff(0), 15);
        assert_eq!(policy.backoff(1), 30);
        assert_eq!(policy.backoff(2), 60);
        assert_eq!(policy.backoff(3), 100);
        assert_eq!(policy.backoff(64), 100);
    }
}
