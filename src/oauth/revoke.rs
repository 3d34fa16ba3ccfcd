//! `POST /revoke` (RFC 7009). Revoking a refresh token revokes its whole family (the
//! grant) with the access tokens issued from it; revoking an access token blocks its `jti`
//! until it would expire. Unknown tokens get 200 (§2.2). A token of another client is
//! refused. When the store fails the answer is 503, never a 200 that did not happen.

use super::client_auth;
use super::error::OAuthError;
use crate::error::AppError;
use crate::http::read_form;
use crate::secrets;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut response = match revoke(&state, &headers, body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn revoke(state: &AppState, headers: &HeaderMap, body: Body) -> Result<(), OAuthError> {
    let params = read_form(headers, body).await.map_err(OAuthError::invalid_request)?;
    let endpoint = state.config.url_for(super::REVOKE);
    let client = client_auth::authenticate(state, headers, &params, &endpoint).await?;
    let token = params.require("token").map_err(OAuthError::invalid_request)?;
    let now = state.clock.now();
    let unavailable = |e: AppError| {
        e.log();
        OAuthError::temporarily_unavailable("revocation could not be recorded; try again")
    };
    let refused = || OAuthError::invalid_grant("the token was issued to another client");

    if token.split('.').count() == 3 {
        // Ours if the signature says so; expiry does not matter (nothing to revoke then).
        let Ok(claims) = state
            .keys
            .verify_signature(token, super::claims::ACCESS_TOKEN_TYP, state.config.issuer_str())
        else {
            return Ok(());
        };
        if claims.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
            return Err(refused());
        }
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        if exp > now {
            state
                .store
                .revoke_access_token(jti, exp)
                .await
                .map_err(|e| unavailable(e.into()))?;
        }
        return Ok(());
    }
    let row = state
        .store
        .refresh_token(&secrets::digest(token))
        .await
        .map_err(|e| unavailable(e.into()))?;
    match row {
        None => Ok(()),
        Some(row) if row.client_id != client.id => Err(refused()),
        Some(row) => state
            .store
            .revoke_grant(&row.grant_id, now)
            .await
            .map_err(|e| unavailable(e.into())),
    }
}
