//! `POST /token` (RFC 6749 §3.2): client authentication, then one module per grant type.
//! What every grant shares, the response and the signing of tokens, lives here.

mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;

use super::claims::{self, Subject};
use super::client_auth;
use super::dpop_binding::{self, Demand};
use super::error::{ErrorCode, OAuthError};
use crate::client_ip::ClientIp;
use crate::clients::Client;
use crate::http::{read_form, split_list};
use crate::secrets;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: String,
}

pub async fn post(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut response = match token(&state, ip, &headers, body).await {
        Ok(tokens) => Json(tokens).into_response(),
        Err(e) => e.into_response(),
    };
    if let Err(e) = dpop_binding::attach_nonce(&state, &headers, &mut response).await {
        response = e.into_response();
    }
    // RFC 6749 §5.1: never cached, errors included.
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token(state: &AppState, ip: ClientIp, headers: &HeaderMap, body: Body) -> Result<TokenResponse, OAuthError> {
    let params = read_form(headers, body).await.map_err(OAuthError::invalid_request)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("missing grant_type"))?
        .to_string();
    let endpoint = state.config.url_for(super::TOKEN);
    let client = client_auth::authenticate(state, headers, &params, &endpoint).await?;
    if !crate::clients::GRANT_TYPES.contains(&grant_type.as_str()) {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {grant_type:?} is not supported"
        )));
    }
    if !client.may_use_grant(&grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant_type} grant"
        )));
    }
    // RFC 9449 §5: a valid proof binds the access token to its key, whatever the grant.
    let demand = Demand {
        method: "POST",
        path: super::TOKEN,
        access_token: None,
        require_nonce: state.config.dpop.require_nonce,
    };
    let proof = dpop_binding::verify(state, headers, &demand).await?;
    if client.require_dpop && proof.is_none() {
        return Err(OAuthError::invalid_dpop_proof(
            "this client's tokens must be DPoP-bound: send a DPoP proof",
        ));
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let exchange = || async {
        match grant_type.as_str() {
            "authorization_code" => authorization_code::exchange(state, &client, &params, jkt).await,
            "refresh_token" => refresh_token::exchange(state, ip, headers, &client, &params, jkt).await,
            crate::clients::DEVICE_CODE_GRANT => device_code::exchange(state, &client, &params, jkt).await,
            _ => client_credentials::exchange(state, &client, &params, jkt).await,
        }
    };
    // A transaction that lost a race (a PostgreSQL serialization failure or deadlock, a
    // busy SQLite) rolled back whole, so the code or refresh token is unspent: try once more.
    let outcome = match exchange().await {
        Err(e) if e.code == ErrorCode::TemporarilyUnavailable => exchange().await,
        other => other,
    };
    if outcome.is_ok() {
        state.metrics.tokens_issued.with_label_values(&[&grant_type]).inc();
    }
    outcome
}

/// Everything needed to sign a user's tokens.
struct UserTokens<'a> {
    client: &'a Client,
    user_id: &'a str,
    grant_id: &'a str,
    session_id: Option<&'a str>,
    scope: &'a str,
    auth_time: i64,
    acr: &'a str,
    amr: &'a str,
    idp: Option<&'a str>,
    nonce: Option<&'a str>,
    refresh_token: Option<String>,
    /// Claims about the user asked for by name for the ID token.
    id_token_claims: serde_json::Map<String, serde_json::Value>,
    /// The DPoP key the access token is bound to (RFC 9449 §6.1).
    dpop_jkt: Option<&'a str>,
}

fn access_ttl(state: &AppState, client: &Client) -> i64 {
    client
        .access_token_ttl_secs
        .unwrap_or(state.config.tokens.access_token_ttl_secs)
}

/// Signs the access token and (with the openid scope) the ID token.
fn issue(state: &AppState, t: UserTokens, now: i64) -> Result<TokenResponse, OAuthError> {
    let config = &state.config;
    let sub = state.subjects.for_client(t.client, t.user_id);
    let subject = Subject {
        issuer: config.issuer_str(),
        sub: &sub,
        client_id: &t.client.id,
        scope: t.scope,
        grant_id: t.grant_id,
        session_id: t.session_id,
        auth_time: t.auth_time,
        acr: t.acr,
        amr: t.amr,
        idp: t.idp,
    };
    let ttl = access_ttl(state, t.client);
    let mut access_claims = claims::access_token(&subject, &secrets::random_id(), now, ttl);
    if let Some(jkt) = t.dpop_jkt {
        access_claims.insert("cnf".into(), dpop_binding::confirmation(jkt));
    }
    let access_token = state.keys.sign(claims::ACCESS_TOKEN_TYP, access_claims, now)?;
    let id_token = if split_list(Some(t.scope)).iter().any(|s| s == "openid") {
        let mut id_claims = claims::id_token(&subject, t.nonce, &access_token, now, config.tokens.id_token_ttl_secs);
        id_claims.extend(t.id_token_claims);
        Some(state.keys.sign(claims::ID_TOKEN_TYP, id_claims, now)?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: dpop_binding::token_type(t.dpop_jkt),
        expires_in: ttl,
        id_token,
        refresh_token: t.refresh_token,
        scope: t.scope.to_string(),
    })
}

/// RFC 9449 §5: refresh tokens issued to a public client are bound to the key of the proof
/// that got them; a confidential client's are already bound to its authentication.
fn refresh_binding<'a>(client: &Client, jkt: Option<&'a str>) -> Option<&'a str> {
    jkt.filter(|_| client.is_public() && !client.has_keys())
}

/// The claims the `claims` request (stored with a code or grant) asks for in the ID token.
async fn requested_id_token_claims(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
    column: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
    let requested = claims::Requested::from_column(column);
    if requested.id_token.is_empty() {
        return Ok(serde_json::Map::new());
    }
    Ok(match crate::store::Store::account_in(tx, user_id).await? {
        Some(account) => claims::user_claims(&account, &requested.id_token),
        None => serde_json::Map::new(),
    })
}

/// As [`requested_id_token_claims`], outside any transaction, for tokens signed before
/// one; reads nothing when no claim is asked for by name.
async fn early_claims(
    state: &AppState,
    user_id: &str,
    column: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
    if column.is_none() {
        return Ok(serde_json::Map::new());
    }
    // A read transaction takes no write lock.
    let mut read = state.store.begin().await?;
    let claims = requested_id_token_claims(&mut read, user_id, column).await?;
    read.rollback().await?;
    Ok(claims)
}

/// When a refresh token family that starts now must end, if the grant gets one: the client
/// may use the refresh grant and the user allowed offline access, or the client is a
/// first-party app configured to always get them.
fn refresh_family_end(state: &AppState, client: &Client, scope: &str, now: i64) -> Option<i64> {
    let offline = split_list(Some(scope)).iter().any(|s| s == "offline_access");
    (client.may_use_grant("refresh_token") && (offline || client.always_refresh)).then(|| {
        now + client
            .refresh_absolute_ttl_secs
            .unwrap_or(state.config.tokens.refresh_absolute_ttl_secs)
    })
}

/// A refresh token's own expiry: idle lifetime from now, never past its family's end.
fn refresh_expiry(state: &AppState, client: &Client, family_end: i64, now: i64) -> i64 {
    let idle = client
        .refresh_idle_ttl_secs
        .unwrap_or(state.config.tokens.refresh_idle_ttl_secs);
    (now + idle).min(family_end)
}
