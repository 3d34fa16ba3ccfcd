//! What a presented token is and whether it is still good: shared by userinfo,
//! introspection and revocation, so "active" means the same everywhere.

use super::claims::ACCESS_TOKEN_TYP;
use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::grants::GrantRow;
use crate::store::tokens::RefreshRow;
use serde_json::{Map, Value};

pub enum Inspected {
    /// One of our access tokens: signature, type, issuer and expiry hold, its `jti` is not
    /// revoked and its grant (if it has one) is live.
    ActiveAccess(Map<String, Value>),
    /// One of our refresh tokens, not rotated out, not expired, its family live.
    ActiveRefresh(RefreshRow, Box<GrantRow>),
    /// Anything else: unknown, expired, revoked, malformed.
    Inactive,
}

pub async fn inspect(state: &AppState, token: &str) -> Result<Inspected, AppError> {
    let now = state.clock.now();
    if token.split('.').count() == 3 {
        return Ok(match active_access_token(state, token, now).await? {
            Some((claims, _)) => Inspected::ActiveAccess(claims),
            None => Inspected::Inactive,
        });
    }
    let Some(row) = state.store.refresh_token(&secrets::digest(token)).await? else {
        return Ok(Inspected::Inactive);
    };
    if row.used_at.is_some() || row.expires_at <= now {
        return Ok(Inspected::Inactive);
    }
    match state.store.grant(&row.grant_id).await? {
        Some(grant) if grant.revoked_at.is_none() && grant.refresh_expires_at.is_some_and(|end| end > now) => {
            Ok(Inspected::ActiveRefresh(row, Box::new(grant)))
        }
        _ => Ok(Inspected::Inactive),
    }
}

/// The claims of `token` if it is one of our access tokens and still good, with the live
/// grant it belongs to (client_credentials tokens have none).
pub async fn active_access_token(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Option<(Map<String, Value>, Option<GrantRow>)>, AppError> {
    let Ok(claims) = state
        .keys
        .verify(token, ACCESS_TOKEN_TYP, state.config.issuer_str(), now)
    else {
        return Ok(None);
    };
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
    if state.store.access_token_revoked(jti).await? {
        return Ok(None);
    }
    let grant = match claims.get("gid").and_then(Value::as_str) {
        Some(grant_id) => match state.store.grant(grant_id).await? {
            Some(grant) if grant.revoked_at.is_none() => Some(grant),
            _ => return Ok(None),
        },
        None => None,
    };
    Ok(Some((claims, grant)))
}

/// Whether `aud` (a string or an array) contains `value`.
pub fn audience_contains(aud: Option<&Value>, value: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == value,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(value)),
        _ => false,
    }
}
