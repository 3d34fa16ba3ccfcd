//! Delivery with retries, shared by email and back-channel logout: claim each due row,
//! try it, then delete it or reschedule it with exponential backoff, giving up (loudly)
//! after a number of attempts. What "try" means is the caller's.

use crate::store::outbox::{Outbox, Queued};
use crate::store::Store;
use std::future::Future;

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

/// Tries each of `rows` once with `send`.
pub async fn deliver<R, F, Fut>(
    store: &Store,
    policy: &Policy,
    rows: Vec<R>,
    now: i64,
    send: F,
) -> Result<(), sqlx::Error>
where
    R: Queued,
    F: Fn(R) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for row in rows {
        let (id, attempts) = (row.id().to_string(), row.attempts() + 1);
        if !store
            .claim(policy.outbox, &id, row.next_at(), now + policy.lease_secs)
            .await?
        {
            continue;
        }
        match send(row).await {
            Ok(()) => store.finish(policy.outbox, &id).await?,
            Err(e) if attempts >= policy.max_attempts => {
                tracing::error!(
                    error = format!("{e:#}"),
                    attempts,
                    "{} undeliverable; giving up",
                    policy.what
                );
                store.finish(policy.outbox, &id).await?;
            }
            Err(e) => {
                let wait = policy.backoff(attempts);
                tracing::warn!(
                    error = format!("{e:#}"),
                    attempts,
                    retry_in = wait,
                    "{} failed; will retry",
                    policy.what
                );
                store.reschedule(policy.outbox, &id, attempts, now + wait).await?;
            }
        }
    }
    Ok(())
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
