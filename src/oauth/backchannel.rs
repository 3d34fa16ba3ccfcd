//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every client that got
//! tokens in it and registered a `backchannel_logout_uri` is sent a signed logout token.
//! Tokens go through a database outbox and a background worker, so the user's logout
//! never waits on a client, and a client that is down is retried with backoff.

use crate::app::AppState;
use crate::error::AppError;
use crate::secrets;
use crate::store::logout::Delivery;
use crate::store::sessions::SessionRow;
use serde_json::json;
use std::time::Duration;

pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Back-Channel Logout §2.4 recommends a short lifetime; ours covers the retry window.
const LOGOUT_TOKEN_TTL: i64 = 10 * 60;
const MAX_ATTEMPTS: i64 = 6;
const LEASE_SECS: i64 = 30;

/// Queues a logout token for each client of the ended `session`, and wakes the worker.
pub async fn queue(state: &AppState, session: &SessionRow, now: i64) -> Result<(), AppError> {
    for client_id in state.store.session_clients(&session.id).await? {
        let Some(client) = state.store.client(&client_id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri else {
            continue;
        };
        let claims = json!({
            "iss": state.config.issuer_str(),
            "aud": client.id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL,
            "jti": secrets::random_id(),
            "sub": session.user_id,
            "sid": session.id,
            "events": { EVENT: {} },
        });
        let serde_json::Value::Object(claims) = claims else {
            continue;
        };
        let token = state.keys.sign(LOGOUT_TOKEN_TYP, claims, now)?;
        state
            .store
            .queue_logout(&secrets::random_id(), &client.id, &uri, &token, now)
            .await?;
    }
    state.backchannel_wake.notify_one();
    Ok(())
}

/// Runs forever: delivers due logout tokens, waking when new ones are queued.
pub async fn worker(state: AppState) {
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "back-channel logout delivery pass failed");
        }
        tokio::select! {
            _ = state.backchannel_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

async fn deliver_due(state: &AppState) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    for delivery in state.store.due_logouts(now, 20).await? {
        if !state.store.claim_logout(&delivery, now, LEASE_SECS).await? {
            continue;
        }
        let delivered = send(state, &delivery).await;
        if delivered {
            state.store.finish_logout(&delivery.id).await?;
            continue;
        }
        let attempts = delivery.attempts + 1;
        if attempts >= MAX_ATTEMPTS {
            tracing::error!(client_id = %delivery.client_id, attempts, "back-channel logout undeliverable; giving up");
            state.store.finish_logout(&delivery.id).await?;
        } else {
            let backoff = 5 * (1_i64 << attempts);
            tracing::warn!(client_id = %delivery.client_id, attempts, retry_in = backoff, "back-channel logout failed; will retry");
            state.store.retry_logout(&delivery.id, attempts, now + backoff).await?;
        }
    }
    Ok(())
}

/// Back-Channel Logout §2.5: POST `logout_token` form-encoded; any 2xx is success.
async fn send(state: &AppState, delivery: &Delivery) -> bool {
    let result = state
        .http
        .post(&delivery.uri)
        .form(&[("logout_token", delivery.logout_token.as_str())])
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::debug!(status = %response.status(), client_id = %delivery.client_id, "logout receiver refused");
            false
        }
        Err(e) => {
            tracing::debug!(error = %e, client_id = %delivery.client_id, "logout receiver unreachable");
            false
        }
    }
}
