//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every client that got
//! tokens in it and registered a `backchannel_logout_uri` is sent a signed logout token.
//! Tokens go through a database outbox and a background worker, so the user's logout
//! never waits on a client, and a client that is down is retried with backoff.

use crate::error::AppError;
use crate::outbox::{self, Policy};
use crate::secrets;
use crate::state::AppState;
use crate::store::logout::Delivery;
use crate::store::outbox::Outbox;
use crate::store::sessions::SessionRow;
use crate::store::Store;
use serde_json::json;
use std::time::Duration;

pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Back-Channel Logout §2.4 recommends a short lifetime; ours covers the retry window.
const LOGOUT_TOKEN_TTL: i64 = 10 * 60;

/// Queues, in `tx`, a logout token for each client of the ended `session`. The caller
/// wakes the worker once `tx` has committed.
pub async fn queue_in(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    session: &SessionRow,
    now: i64,
) -> Result<(), AppError> {
    for client_id in Store::session_clients_in(tx, &session.id).await? {
        let Some(client) = state.store.client(&client_id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let claims = json!({
            "iss": state.config.issuer_str(),
            "aud": client.id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL,
            "jti": secrets::random_id(),
            "sub": state.subjects.for_client(&client, &session.user_id),
            "sid": session.id,
            "events": { EVENT: {} },
        });
        let serde_json::Value::Object(claims) = claims else {
            continue;
        };
        let token = state.keys.sign(LOGOUT_TOKEN_TYP, claims, now)?;
        Store::queue_logout_in(tx, &secrets::random_id(), &client.id, &uri, &token, now).await?;
    }
    Ok(())
}

/// Runs forever: delivers due logout tokens, waking when new ones are queued.
pub async fn worker(state: AppState) {
    loop {
        match deliver_due(&state).await {
            Ok(failed) => crate::metrics::count_failures(&state.metrics.outbox_failures, "backchannel", failed),
            Err(e) => tracing::warn!(error = %e, "back-channel logout delivery pass failed"),
        }
        tokio::select! {
            _ = state.backchannel_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

const POLICY: Policy = Policy {
    outbox: Outbox::Logout,
    what: "back-channel logout",
    max_attempts: 6,
    base_backoff_secs: 5,
    max_backoff_secs: 600,
    lease_secs: 30,
};

async fn deliver_due(state: &AppState) -> Result<crate::outbox::Failures, sqlx::Error> {
    let now = state.clock.now();
    let due = state.store.due_logouts(now, 20).await?;
    outbox::deliver(&state.store, &POLICY, due, &state.clock, |delivery| async move {
        send(state, &delivery).await
    })
    .await
}

/// Back-Channel Logout §2.5: POST `logout_token` form-encoded; any 2xx is success.
async fn send(state: &AppState, delivery: &Delivery) -> anyhow::Result<()> {
    state
        .outbound
        .post_form(&delivery.uri, &[("logout_token", delivery.logout_token.as_str())])
        .await
        .map_err(|e| anyhow::anyhow!("client {}: {e}", delivery.client_id))
}
