//! `GET`/`POST /userinfo` (OIDC Core §5.3) with RFC 6750 bearer tokens. A token must be
//! one of our RS256 access tokens (never an ID token), unexpired, and its grant still
//! live: a JWT stays valid on paper after its grant is revoked, so we ask the database.

use super::claims;
use super::error::OAuthError;
use crate::http::{read_form, Params};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(userinfo(&state, bearer(&headers, None)).await)
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    // A body that is not a form simply carries no token; the header may.
    let params = read_form(&headers, body).await.ok();
    respond(userinfo(&state, bearer(&headers, params.as_ref())).await)
}

fn respond(result: Result<serde_json::Map<String, Value>, OAuthError>) -> Response {
    match result {
        Ok(claims) => {
            let mut response = Json(claims).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// RFC 6750 §2.1 (header) and §2.2 (form body); exactly one of them.
pub(crate) fn bearer(headers: &HeaderMap, form: Option<&Params>) -> Result<String, OAuthError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| OAuthError::invalid_token("malformed Authorization header"))?;
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                    Some(token.trim().to_string())
                }
                _ => return Err(OAuthError::invalid_token("expected a Bearer token")),
            }
        }
    };
    let from_form = form.and_then(|p| p.get("access_token")).map(str::to_string);
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the token in one place only")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(OAuthError::invalid_token("an access token is required")),
    }
}

async fn userinfo(
    state: &AppState,
    token: Result<String, OAuthError>,
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let token = token?;
    let now = state.clock.now();
    let issuer = state.config.issuer_str();
    let (claims, grant) = super::inspect::active_access_token(state, &token, now)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the access token is invalid, expired or revoked"))?;
    if !super::inspect::audience_contains(claims.get("aud"), issuer) {
        return Err(OAuthError::invalid_token("the token is not meant for userinfo"));
    }
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OAuthError::insufficient_scope("userinfo needs the openid scope"));
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let account = state
        .store
        .account_by_id(sub)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the account no longer exists"))?;
    // Claims asked for by name ride on the grant the token belongs to.
    let requested = grant
        .filter(|g| claims::Requested::applies(&g.scope, scope))
        .map(|g| claims::Requested::from_column(g.claims.as_deref()));
    Ok(claims::userinfo(
        &account,
        &scopes,
        &requested.unwrap_or_default().userinfo,
    ))
}
