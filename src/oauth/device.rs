//! `POST /device_authorization` (RFC 8628 §3.1–3.2): a device without a browser asks for
//! a device code to poll `/token` with and a short user code for its user to type at
//! `/device` on a phone or computer. The grant itself is [`super::token`]'s
//! `device_code`; the page is `accounts::device`.

use super::client_auth;
use super::error::OAuthError;
use crate::http::{read_form, split_list};
use crate::secrets;
use crate::state::AppState;
use crate::store::device_codes::DeviceCodeRow;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub use crate::clients::DEVICE_CODE_GRANT as GRANT_TYPE;
/// How long the user has to type the code (RFC 8628 §3.2 `expires_in`).
const LIFETIME_SECS: i64 = 600;
/// The least time between polls; `slow_down` adds five seconds each time (§3.5).
pub const INTERVAL_SECS: i64 = 5;
/// RFC 8628 §6.1: consonants only (no vowels, so no words), no look-alikes; eight of
/// them are 20^8 ≈ 2^34.6 codes, ample for ten minutes behind the page's rate limit.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

#[derive(Serialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut response = match authorize(&state, &headers, body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn authorize(state: &AppState, headers: &HeaderMap, body: Body) -> Result<DeviceAuthorization, OAuthError> {
    let params = read_form(headers, body).await.map_err(OAuthError::invalid_request)?;
    let endpoint = state.config.url_for(super::DEVICE_AUTHORIZATION);
    let client = client_auth::authenticate(state, headers, &params, &endpoint).await?;
    if !client.may_use_grant(GRANT_TYPE) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the device authorization grant",
        ));
    }
    // As at /authorize: scopes we or the client don't know are dropped (RFC 6749 §3.3).
    let scope = split_list(params.get("scope"))
        .into_iter()
        .filter(|s| s == "openid" || client.may_request_scope(s))
        .filter(|s| s != "offline_access" || client.may_use_grant("refresh_token"))
        .collect::<Vec<_>>()
        .join(" ");
    let now = state.clock.now();
    let device_code = secrets::random_token();
    let user_code = new_user_code();
    state
        .store
        .create_device_code(&DeviceCodeRow {
            device_code_hash: secrets::digest(&device_code),
            user_code: user_code.clone(),
            client_id: client.id.clone(),
            scope,
            created_at: now,
            expires_at: now + LIFETIME_SECS,
            interval_secs: INTERVAL_SECS,
            last_polled_at: 0,
            status: "pending".into(),
            user_id: None,
            session_id: None,
            auth_time: None,
            amr: None,
            idp: None,
        })
        .await?;
    let shown = display(&user_code);
    let verification_uri = state.config.url_for(super::DEVICE_PAGE);
    Ok(DeviceAuthorization {
        device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        verification_uri,
        user_code: shown,
        expires_in: LIFETIME_SECS,
        interval: INTERVAL_SECS,
    })
}

fn new_user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// `BCDF-GHJK`: two halves are easier to read off a screen and type.
pub fn display(code: &str) -> String {
    match code.len() {
        USER_CODE_LEN => format!("{}-{}", &code[..4], &code[4..]),
        _ => code.to_string(),
    }
}

/// A typed code as stored: case, spaces and dashes do not matter (§6.1). None when it
/// cannot be a code of ours.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_consonants_typed_loosely() {
        let code = new_user_code();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{code}");
        let shown = display(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(normalise(&shown.to_lowercase()), Some(code.clone()));
        assert_eq!(normalise(&format!(" {} ", shown.replace('-', " "))), Some(code));
        assert_eq!(normalise("AAAA-AAAA"), None, "vowels are never in a code");
        assert_eq!(normalise("BCDF"), None);
    }
}
