//! `GET /introspect/hello`: every request asks Gatehouse (RFC 7662) whether the token is
//! active. Nothing is cached, on purpose: a token revoked at Gatehouse is refused on the
//! very next request. The price is one call to Gatehouse per request.

use crate::reply::{presented, Granted, Refusal};
use crate::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method};
use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;

const NOT_CONFIGURED: &str =
    "introspection is not configured: start with --introspection-client-id and --introspection-client-secret";

pub async fn hello(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Granted, Refusal> {
    let (scheme, token) = presented(&headers)?;
    let answer = introspect(&state, token).await.map_err(|r| r.under(scheme))?;
    // RFC 9449 §6.2: introspection shows a bound token's key as `cnf`.
    state.enforce_binding(&headers, &method, &uri, (scheme, token), answer.cnf.as_ref())?;
    let sub = answer
        .sub
        .ok_or(Refusal::InvalidToken("the token names no subject").under(scheme))?;
    Ok(Granted {
        mode: "introspection",
        sub,
        scope: answer.scope,
    })
}

/// Gatehouse's answer about `token`, once it is known to be an active access token for
/// this API.
async fn introspect(state: &AppState, token: &str) -> Result<Introspection, Refusal> {
    let credentials = state
        .introspection_credentials()
        .ok_or(Refusal::Unavailable(NOT_CONFIGURED))?;
    let unavailable = Refusal::Unavailable("Gatehouse could not introspect the token");
    let response = state
        .http()
        .post(state.introspection_url())
        .header(AUTHORIZATION, credentials.clone())
        .form(&[("token", token)])
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "introspection request failed");
            Refusal::Unavailable("Gatehouse could not be reached")
        })?;
    if !response.status().is_success() {
        // A 401 here means our own client credentials are wrong: the operator's problem,
        // not the caller's, so it is no reason to call their token invalid.
        tracing::warn!(status = %response.status(), "introspection answered an error");
        return Err(unavailable);
    }
    let answer: Introspection = response.json().await.map_err(|e| {
        tracing::warn!(error = %e, "introspection answer is not the JSON expected");
        Refusal::Unavailable("Gatehouse could not introspect the token")
    })?;
    if !answer.active {
        return Err(Refusal::InvalidToken("the token is not active"));
    }
    // A refresh token is active too, when it is ours, but it is no access credential.
    // A bound access token's type is DPoP (RFC 9449 §6.2); its binding is checked by `cnf`.
    if answer
        .token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer") && !t.eq_ignore_ascii_case("dpop"))
    {
        return Err(Refusal::InvalidToken("not an access token"));
    }
    if !audience_contains(answer.aud.as_ref(), state.audience()) {
        return Err(Refusal::InvalidToken("the token is meant for another audience"));
    }
    Ok(answer)
}

#[derive(Deserialize)]
struct Introspection {
    active: bool,
    sub: Option<String>,
    scope: Option<String>,
    aud: Option<Value>,
    token_type: Option<String>,
    cnf: Option<Value>,
}

fn audience_contains(aud: Option<&Value>, audience: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

/// `Authorization: Basic` for client_secret_basic. RFC 6749 §2.3.1 form-urlencodes the id
/// and secret first, which matters for an id like `https://api.example.com` (its `:`
/// would otherwise end the id early).
pub fn basic_credentials(client_id: &str, client_secret: &str) -> anyhow::Result<HeaderValue> {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))?;
    value.set_sensitive(true);
    Ok(value)
}
