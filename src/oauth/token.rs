//! `POST /token` (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3): client authentication, then
//! the grant. Codes are single use: the first redemption wins in the database, and a
//! second one revokes what the first issued (RFC 6749 §4.1.2).

use super::claims::{self, Subject};
use super::client_auth;
use super::error::OAuthError;
use super::params::{read_form, Params};
use super::pkce;
use crate::app::AppState;
use crate::clients::Client;
use crate::secrets;
use crate::store::codes::{CodeRow, Consumed};
use crate::store::Store;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    id_token: String,
    scope: String,
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match token(&state, &headers, body).await {
        Ok(response) => {
            let mut response = Json(response).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn token(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenResponse, OAuthError> {
    let params = read_form(headers, body)
        .await
        .map_err(OAuthError::invalid_request)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("missing grant_type"))?;
    let client = client_auth::authenticate(&state.store, headers, &params).await?;
    match grant_type {
        "authorization_code" => authorization_code(state, &client, &params).await,
        other => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {other:?} is not supported"
        ))),
    }
}

/// RFC 6749 §4.1.3.
async fn authorization_code(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .require("code")
        .map_err(OAuthError::invalid_request)?;
    let redirect_uri = params
        .require("redirect_uri")
        .map_err(OAuthError::invalid_request)?;
    let verifier = params.get("code_verifier");
    let now = state.clock.now();

    let mut tx = state.store.begin().await?;
    let row = match Store::consume_code(&mut tx, &secrets::digest(code), now).await? {
        Consumed::Fresh(row) => row,
        Consumed::Replayed { grant_id } => {
            tx.commit().await?;
            state.store.revoke_grant(&grant_id, now).await?;
            tracing::warn!(client_id = %client.id, "authorization code replayed; its grant is revoked");
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used",
            ));
        }
        Consumed::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code")),
    };
    // The code is spent whatever happens next: a failed check must not leave it usable.
    let checked = check_code(&row, client, redirect_uri, verifier, now);
    let checked = match checked {
        Ok(()) if !Store::session_live_in(&mut tx, &row.session_id, now).await? => Err(
            OAuthError::invalid_grant("the sign-in session behind this code has ended"),
        ),
        other => other,
    };
    if let Err(e) = checked {
        tx.commit().await?;
        return Err(e);
    }
    Store::insert_grant(&mut tx, &row, now).await?;
    tx.commit().await?;

    let account = state
        .store
        .account_by_id(&row.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    issue(state, client, &row, &account.id, now)
}

/// Binding checks of RFC 6749 §4.1.3 and RFC 7636 §4.6.
fn check_code(
    row: &CodeRow,
    client: &Client,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: i64,
) -> Result<(), OAuthError> {
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&row.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a downgrade.
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "this code was issued without PKCE",
        )),
        (None, None) => Ok(()),
    }
}

fn issue(
    state: &AppState,
    client: &Client,
    row: &CodeRow,
    user_id: &str,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let config = &state.config;
    let subject = Subject {
        issuer: config.issuer_str(),
        user_id,
        client_id: &client.id,
        scope: &row.scope,
        grant_id: &row.grant_id,
        session_id: &row.session_id,
        auth_time: row.auth_time,
    };
    let ttl = config.tokens.access_token_ttl_secs;
    let access_claims = claims::access_token(&subject, &secrets::random_id(), now, ttl);
    let access_token = state
        .keys
        .sign(claims::ACCESS_TOKEN_TYP, access_claims, now)?;
    let id_claims = claims::id_token(
        &subject,
        row.nonce.as_deref(),
        &access_token,
        now,
        config.tokens.id_token_ttl_secs,
    );
    let id_token = state.keys.sign(claims::ID_TOKEN_TYP, id_claims, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        id_token,
        scope: row.scope.clone(),
    })
}
