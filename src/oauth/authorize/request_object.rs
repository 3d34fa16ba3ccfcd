//! Request objects (OIDC Core §6.1, RFC 9101): the authorization request as a JWT the
//! client signed (RS256 or ES256) with a key of its registered JWK Set. Its parameters win
//! over the URL's; `client_id` and `response_type`, which OAuth needs in the URL too,
//! must match. Unsigned (`alg: none`) objects are refused: no verifier accepts them.

use crate::client_keys::KeysError;
use crate::http::Params;
use crate::oauth::client_assertion::{self, SignedByClient};
use crate::oauth::error::OAuthError;
use crate::state::AppState;
use serde_json::Value;

/// Media types a request object by reference may come as (RFC 9101 §10.2; `jwt` and
/// `jose` for clients written before it).
const ACCEPT: &str = "application/oauth-authz-req+jwt, application/jwt, application/jose";

/// OIDC Core §6.2, RFC 9101 §5.2: a request object passed by reference. The URI must be
/// one the client registered (`request_uris`, so `require_request_uri_registration`),
/// fetched through the guarded outbound client; what it holds becomes the `request`
/// parameter, verified by [`expand`] exactly as one passed by value. Parameters without a
/// `request_uri` come back unchanged.
pub async fn fetch_by_reference(state: &AppState, params: &Params) -> Result<Params, OAuthError> {
    let Some(uri) = params.get("request_uri") else {
        return Ok(params.clone());
    };
    if params.get("request").is_some() {
        return Err(OAuthError::invalid_request(
            "send a request object by value or by reference, not both",
        ));
    }
    let client_id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("a request_uri needs client_id in the URL too"))?;
    let client = state
        .clients
        .get(&state.store, client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("The application that sent you here is not registered."))?;
    if !client.has_request_uri(uri) {
        return Err(OAuthError::invalid_request_uri(
            "this request_uri is not one the client registered",
        ));
    }
    let fetched = state
        .outbound
        .get(uri, ACCEPT)
        .await
        .map_err(|e| OAuthError::invalid_request_uri(e.to_string()))?;
    let object = fetched.body.trim();
    // A compact JWS has three parts; encrypted (five-part) objects are not supported.
    if object.split('.').count() != 3 {
        return Err(OAuthError::invalid_request_uri(
            "the request_uri does not hold a signed request object",
        ));
    }
    Ok(params.merged([("request".to_string(), object.to_string())], "request_uri"))
}

/// The request's parameters with those of its `request` object in force; the same
/// parameters when it has none.
pub async fn expand(state: &AppState, params: &Params) -> Result<Params, OAuthError> {
    let Some(object) = params.get("request") else {
        return Ok(params.clone());
    };
    let client_id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("a request object needs client_id in the URL too"))?;
    let client = state
        .clients
        .get(&state.store, client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("The application that sent you here is not registered."))?;
    let claims = client_assertion::verify_signed_by(state, &client, object)
        .await
        .map_err(|e| match e {
            SignedByClient::Keys(KeysError::None) => {
                OAuthError::invalid_request_object("this client has no registered keys to sign request objects with")
            }
            SignedByClient::Keys(e) => OAuthError::invalid_request_object(e.to_string()),
            SignedByClient::Signature(_) => {
                OAuthError::invalid_request_object("the request object's signature does not verify")
            }
        })?;
    let now = state.clock.now();
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    // RFC 9101 §4: the client made it, for us, and it has not expired.
    if text("iss").is_some_and(|iss| iss != client_id) {
        return Err(OAuthError::invalid_request_object(
            "the request object's iss is not the client",
        ));
    }
    let ours = state.config.issuer_str();
    let aud_ok = match claims.get("aud") {
        None => true,
        Some(Value::String(aud)) => aud == ours,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(ours)),
        Some(_) => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_request_object(
            "the request object's aud is not this issuer",
        ));
    }
    if claims.get("exp").and_then(Value::as_i64).is_some_and(|exp| exp <= now) {
        return Err(OAuthError::invalid_request_object("the request object has expired"));
    }
    for name in ["client_id", "response_type"] {
        if text(name).is_some_and(|inner| Some(inner) != params.get(name)) {
            return Err(OAuthError::invalid_request_object(format!(
                "{name} in the request object differs from the URL's"
            )));
        }
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(OAuthError::invalid_request_object(
            "a request object cannot hold another",
        ));
    }
    let registered = ["iss", "aud", "exp", "iat", "nbf", "jti"];
    let overrides = claims
        .into_iter()
        .filter(|(name, _)| !registered.contains(&name.as_str()))
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => s,
                // `claims` is an object, `max_age` a number: as they would be in the URL.
                other => other.to_string(),
            };
            (name, value)
        });
    Ok(params.merged(overrides, "request"))
}
