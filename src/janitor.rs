//! The janitor: ends sessions that timed out (like a logout: grants revoked, apps
//! notified), and deletes what has outlived its use: expired rows, sign-ups never
//! confirmed, stale failed-login counts, audit events past their retention. Nothing is kept without a bound.

use crate::accounts::forms::CONFIRM_TTL;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Store;
use std::time::Duration;

const SWEEP_EVERY_SECS: u64 = 600;

/// How long a quiet identifier's failed-login count is kept.
const LOGIN_FAILURES_KEPT_SECS: i64 = 24 * 3600;

/// Runs forever: a sweep every ten minutes.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(SWEEP_EVERY_SECS));
    loop {
        tick.tick().await;
        sweep(&state).await;
    }
}

/// One pass. Each step logs its own failure and the rest still run.
pub async fn sweep(state: &AppState) {
    // Sessions that time out end like a logout: grants revoked, apps notified.
    let now = state.clock.now();
    if let Err(e) = end_expired_sessions(state, now).await {
        tracing::warn!(error = %e, "ending expired sessions failed");
    }
    // Sign-ups never confirmed in time, and failed-login counts quiet for a day.
    let unconfirmed = state.store.purge_unconfirmed(now - CONFIRM_TTL).await;
    let failures = state.store.purge_login_failures(now - LOGIN_FAILURES_KEPT_SECS).await;
    for (what, outcome) in [("unconfirmed accounts", unconfirmed), ("login failures", failures)] {
        match outcome {
            Ok(n) if n > 0 => tracing::info!(removed = n, "purged {what}"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging {what} failed"),
        }
    }
    // Audit events past the retention.
    let retention = state.config.audit.retention_days.saturating_mul(86_400);
    match state.store.prune_audit_events(now.saturating_sub(retention)).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "pruned audit events past the retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning audit events failed"),
    }
    match state.store.purge_expired(now).await {
        Ok(n) if n > 0 => tracing::debug!(removed = n, "purged expired rows"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
    }
}

/// Deletes expired sessions and, in the same transaction, revokes their grants and queues
/// their logout notices: a crash or a second node in between cannot lose either.
async fn end_expired_sessions(state: &AppState, now: i64) -> Result<(), AppError> {
    let mut tx = state.store.begin().await?;
    let ended = Store::take_expired_sessions_in(&mut tx, now, state.config.sessions.idle_ttl_secs).await?;
    crate::sessions::ended_in(state, &mut tx, &ended).await?;
    tx.commit().await?;
    if !ended.is_empty() {
        state.backchannel_wake.notify_one();
    }
    Ok(())
}
