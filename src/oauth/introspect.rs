//! `POST /introspect` (RFC 7662) for confidential clients. A client learns about the
//! tokens issued to it and the access tokens whose audience it is; for anything else,
//! and for every token that is not active, the answer is `{"active": false}` and nothing
//! more (RFC 7662 §2.2).

use super::client_auth;
use super::error::OAuthError;
use super::inspect::{audience_contains, inspect, Inspected};
use crate::http::read_form;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut response = match introspect(&state, &headers, body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn introspect(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let params = read_form(headers, body).await.map_err(OAuthError::invalid_request)?;
    let endpoint = state.config.url_for(super::INTROSPECT);
    let client = client_auth::authenticate(state, headers, &params, &endpoint).await?;
    if client.is_public() && !client.has_keys() {
        return Err(OAuthError::invalid_client("introspection needs a confidential client"));
    }
    let token = params.require("token").map_err(OAuthError::invalid_request)?;
    let inactive = json!({ "active": false });
    Ok(match inspect(state, token).await? {
        Inspected::ActiveAccess(claims) => {
            let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
            if client_id != client.id && !audience_contains(claims.get("aud"), &client.id) {
                return Ok(inactive);
            }
            // RFC 9449 §6.2: a bound token's key, and its DPoP type.
            let jkt = super::dpop_binding::bound_key(&claims);
            let mut answer = json!({ "active": true, "token_type": super::dpop_binding::token_type(jkt) });
            for name in [
                "scope",
                "client_id",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "jti",
                "auth_time",
                "cnf",
            ] {
                if let Some(value) = claims.get(name) {
                    answer[name] = value.clone();
                }
            }
            answer
        }
        Inspected::ActiveRefresh(row, grant) => {
            if row.client_id != client.id {
                return Ok(inactive);
            }
            json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": grant.scope,
                "client_id": row.client_id,
                "sub": state.subjects.for_client(&client, &grant.user_id),
                "iss": state.config.issuer_str(),
                "iat": row.created_at,
                "exp": row.expires_at,
            })
        }
        Inspected::Inactive => inactive,
    })
}
