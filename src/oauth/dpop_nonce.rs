//! Server-provided DPoP nonces (RFC 9449 §8): with `dpop.require_nonce`, a proof must
//! carry a nonce we issued recently, so a proof cannot be made ahead of time (§11.2).
//!
//! One random nonce per time window, kept in the database. Why not an HMAC of the time:
//! that needs a secret every instance shares, and the configuration has none that is
//! always set (`keys.encryption_key` is optional). Why not a row per nonce: every
//! `use_dpop_nonce` answer would write one. A window's nonce is written once, by
//! whichever instance asks first (the primary key decides), and read by all; the janitor
//! removes it when it expires.

use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;

/// A nonce is handed out during one window and accepted until the end of the next.
const WINDOW_SECS: i64 = 180;

fn window_start(now: i64) -> i64 {
    now - now.rem_euclid(WINDOW_SECS)
}

/// The nonce to hand out now (the `DPoP-Nonce` header).
pub async fn current(state: &AppState) -> Result<String, AppError> {
    let start = window_start(state.clock.now());
    Ok(state
        .store
        .dpop_nonce(start, &secrets::random_token(), start + 2 * WINDOW_SECS)
        .await?)
}

/// Whether a proof's nonce is this window's or the previous one's.
pub async fn is_current(state: &AppState, nonce: &str) -> Result<bool, AppError> {
    let previous = window_start(state.clock.now()) - WINDOW_SECS;
    Ok(state.store.dpop_nonce_known(nonce, previous).await?)
}
