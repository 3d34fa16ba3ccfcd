//! The device authorization grant at `/token` (RFC 8628 §3.4–3.5): the device polls with
//! its device code until the user has approved or denied it at `/device`. Polling faster
//! than the interval answers `slow_down` and lengthens the interval by five seconds; an
//! approved code is redeemed once, in the transaction that makes its grant.

use super::{issue, refresh_binding, refresh_expiry, refresh_family_end, TokenResponse, UserTokens};
use crate::clients::Client;
use crate::http::Params;
use crate::oauth::claims;
use crate::oauth::error::OAuthError;
use crate::secrets;
use crate::state::AppState;
use crate::store::grants::NewGrant;
use crate::store::Store;

/// What `slow_down` adds to the interval (§3.5).
const SLOW_DOWN_SECS: i64 = 5;

pub(super) async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("device_code").map_err(OAuthError::invalid_request)?;
    let hash = secrets::digest(code);
    let now = state.clock.now();
    let Some(row) = state.store.device_code(&hash).await? else {
        return Err(OAuthError::invalid_grant("unknown device_code"));
    };
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the device_code was issued to another client",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::expired_token("the device_code has expired; start again"));
    }
    match row.status.as_str() {
        "denied" => return Err(OAuthError::access_denied("the user denied the request")),
        "used" => return Err(OAuthError::invalid_grant("the device_code was already used")),
        _ => {}
    }
    // Too soon after the last poll: wait longer from now on (§3.5).
    if row.status == "pending" {
        let early = now - row.last_polled_at < row.interval_secs;
        let interval = row.interval_secs + if early { SLOW_DOWN_SECS } else { 0 };
        state.store.device_polled(&hash, now, interval).await?;
        return Err(match early {
            true => OAuthError::slow_down(format!("poll at most every {interval} seconds")),
            false => OAuthError::authorization_pending("the user has not yet approved the request"),
        });
    }
    let (Some(user_id), Some(session_id), Some(auth_time), Some(amr)) =
        (&row.user_id, &row.session_id, row.auth_time, &row.amr)
    else {
        return Err(OAuthError::invalid_grant("the device_code is not approved"));
    };
    // "1" when the user signed in for this request, "0" when their session already was.
    let acr = match auth_time >= row.created_at {
        true => claims::ACR_FRESH,
        false => claims::ACR_SESSION,
    };
    let grant_id = secrets::random_id();
    let family_end = refresh_family_end(state, client, &row.scope, now);
    let mut tx = state.store.begin().await?;
    if !Store::redeem_device_code(&mut tx, &hash, &grant_id).await? {
        return Err(OAuthError::invalid_grant("the device_code was already used"));
    }
    Store::insert_grant(
        &mut tx,
        &NewGrant {
            id: &grant_id,
            client_id: &client.id,
            user_id,
            session_id,
            scope: &row.scope,
            auth_time,
            refresh_expires_at: family_end,
            claims: None,
            acr,
            amr,
            idp: row.idp.as_deref(),
            dpop_jkt: refresh_binding(client, dpop_jkt),
        },
        now,
    )
    .await?;
    let refresh_token = match family_end {
        Some(end) => {
            let token = secrets::random_token();
            let expires = refresh_expiry(state, client, end, now);
            Store::insert_refresh_token(&mut tx, &secrets::digest(&token), &grant_id, &client.id, now, expires).await?;
            Some(token)
        }
        None => None,
    };
    let tokens = issue(
        state,
        UserTokens {
            client,
            user_id,
            grant_id: &grant_id,
            session_id: Some(session_id),
            scope: &row.scope,
            auth_time,
            acr,
            amr,
            idp: row.idp.as_deref(),
            nonce: None,
            refresh_token,
            id_token_claims: serde_json::Map::new(),
            dpop_jkt,
        },
        now,
    )?;
    tx.commit().await?;
    Ok(tokens)
}
