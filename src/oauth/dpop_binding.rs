//! DPoP at our endpoints (RFC 9449): the one `DPoP` header of a request checked as a proof
//! for that endpoint, with its nonce when one is required (§8) and its `jti` used once
//! across every instance (§11.1); what a bound token says of its key (`cnf`, §6.1); and
//! the `DPoP` challenge a protected resource answers with (§7.1).

use super::dpop::{self, Expected, Proof, SIGNING_ALGS};
use super::dpop_nonce;
use super::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const HEADER: &str = "dpop";
pub const NONCE_HEADER: &str = "dpop-nonce";

/// What the request demands of its proof besides what `dpop::check` looks at.
pub struct Demand<'a> {
    pub method: &'a str,
    /// One of the endpoint paths of `oauth`; the proof's `htu` is its URL under the issuer.
    pub path: &'a str,
    pub access_token: Option<&'a str>,
    pub require_nonce: bool,
}

/// The request's proof, if it sent one (§4.3). Checked against the request, its nonce
/// when required, and its `jti` recorded, last, so a refused proof is not spent.
pub async fn verify(state: &AppState, headers: &HeaderMap, demand: &Demand<'_>) -> Result<Option<Proof>, OAuthError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_dpop_proof("send exactly one DPoP header"));
    }
    let jwt = value
        .to_str()
        .map_err(|_| OAuthError::invalid_dpop_proof("the DPoP header is not a signed JWT"))?;
    let url = state.config.url_for(demand.path);
    let expected = Expected {
        method: demand.method,
        url: &url,
        access_token: demand.access_token,
        now: state.clock.now(),
    };
    let proof = dpop::check(jwt, &expected).map_err(OAuthError::invalid_dpop_proof)?;
    if demand.require_nonce {
        match &proof.nonce {
            Some(nonce) if dpop_nonce::is_current(state, nonce).await? => {}
            Some(_) => {
                return Err(OAuthError::use_dpop_nonce(
                    "the proof's nonce is not current; use the one in the DPoP-Nonce header",
                ))
            }
            None => {
                return Err(OAuthError::use_dpop_nonce(
                    "the authorization server requires a nonce in the DPoP proof",
                ))
            }
        }
    }
    if !state
        .store
        .record_dpop_proof(&proof.jkt, &proof.jti, proof.replay_expiry())
        .await?
    {
        return Err(OAuthError::invalid_dpop_proof(
            "the proof was already used; make a fresh one for every request",
        ));
    }
    Ok(Some(proof))
}

/// §8: while nonces are required, every answer to a request that sent a proof carries the
/// current nonce, so the client's next proof can include it.
pub async fn attach_nonce(state: &AppState, headers: &HeaderMap, response: &mut Response) -> Result<(), OAuthError> {
    if !state.config.dpop.require_nonce || !headers.contains_key(HEADER) {
        return Ok(());
    }
    let nonce = dpop_nonce::current(state).await?;
    if let Ok(value) = HeaderValue::from_str(&nonce) {
        response.headers_mut().insert(NONCE_HEADER, value);
    }
    Ok(())
}

/// The `token_type` of an access token bound to `jkt`, or of a bearer token (§5).
pub fn token_type(jkt: Option<&str>) -> &'static str {
    match jkt {
        Some(_) => "DPoP",
        None => "Bearer",
    }
}

/// The confirmation claim of a token bound to `jkt` (§6.1).
pub fn confirmation(jkt: &str) -> Value {
    json!({ "jkt": jkt })
}

/// The key thumbprint an access token's claims bind it to, if any.
pub fn bound_key(claims: &serde_json::Map<String, Value>) -> Option<&str> {
    claims.get("cnf")?.get("jkt")?.as_str()
}

/// A protected resource's error under the DPoP scheme (§7.1): token and proof errors are
/// 401 with a `WWW-Authenticate: DPoP` challenge naming the error and the algs accepted.
pub fn resource_error(error: OAuthError) -> Response {
    let code = error.code;
    let challenge = format!(
        r#"DPoP error="{}", error_description="{}", algs="{}""#,
        code.as_str(),
        error.description.replace('"', "'"),
        SIGNING_ALGS.join(" ")
    );
    let mut response = error.into_response();
    if matches!(code, ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce) {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
