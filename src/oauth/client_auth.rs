//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1, OIDC Core §9): client_secret_basic, client_secret_post, private_key_jwt
//! (RFC 7523, each assertion usable once), or none for public clients. Secrets are
//! compared as digests in constant time; exactly one method per request.

use super::error::OAuthError;
use crate::clients::Client;
use crate::http::Params;
use crate::state::AppState;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest lifetime we accept on a client assertion; bounds the replay-cache too.
const MAX_ASSERTION_LIFETIME: i64 = 600;

enum Credentials {
    Secret { client_id: String, secret: SecretString },
    Assertion { client_id: String, assertion: String },
    None { client_id: String },
}

/// Authenticates the calling client. `endpoint` is the URL being called, which a client
/// assertion may name as its audience (as may the issuer).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
) -> Result<Client, OAuthError> {
    let credentials = presented_credentials(headers, params)?;
    let client_id = match &credentials {
        Credentials::Secret { client_id, .. }
        | Credentials::Assertion { client_id, .. }
        | Credentials::None { client_id } => client_id.clone(),
    };
    let client = state
        .clients
        .get(&state.store, &client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client or bad credentials"))?;
    match credentials {
        Credentials::Secret { secret, .. } if client.secret_matches(secret.expose_secret()) => Ok(client),
        Credentials::Secret { .. } if client.is_public() => {
            Err(OAuthError::invalid_client("public clients have no secret"))
        }
        Credentials::Secret { .. } => Err(OAuthError::invalid_client("unknown client or bad credentials")),
        Credentials::None { .. } if client.is_public() && !client.has_keys() => Ok(client),
        Credentials::None { .. } => Err(OAuthError::invalid_client("client authentication is required")),
        Credentials::Assertion { assertion, .. } => {
            verify_assertion(state, &client, &assertion, endpoint).await?;
            Ok(client)
        }
    }
}

/// RFC 7523 §3: signed by a registered key, iss = sub = client_id, our endpoint or issuer
/// as audience, unexpired and short-lived, and a `jti` never seen before.
async fn verify_assertion(
    state: &AppState,
    client: &Client,
    assertion: &str,
    endpoint: &str,
) -> Result<(), OAuthError> {
    let jwks = client
        .jwks
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_client("this client has no registered keys for private_key_jwt"))?;
    let claims = super::client_assertion::verify(jwks, assertion).map_err(OAuthError::invalid_client)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    if text("iss") != client.id || text("sub") != client.id {
        return Err(OAuthError::invalid_client(
            "the assertion's iss and sub must be the client_id",
        ));
    }
    let issuer = state.config.issuer_str();
    let audience_ok = |a: &str| a == endpoint || a == issuer || a == state.config.url_for(super::TOKEN);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audience_ok(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_client(
            "the assertion's aud must be this endpoint or the issuer",
        ));
    }
    let now = state.clock.now();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now || exp > now + MAX_ASSERTION_LIFETIME {
        return Err(OAuthError::invalid_client("the assertion is expired or lives too long"));
    }
    let jti = text("jti");
    if jti.is_empty() {
        return Err(OAuthError::invalid_client("the assertion needs a jti"));
    }
    if !state.store.record_client_assertion(&client.id, &jti, exp).await? {
        return Err(OAuthError::invalid_client("the assertion was already used"));
    }
    Ok(())
}

fn presented_credentials(headers: &HeaderMap, params: &Params) -> Result<Credentials, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_id = params.get("client_id").map(str::to_string);
    let body_secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let methods = [basic.is_some(), body_secret.is_some(), assertion.is_some()];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not several",
        ));
    }
    if let Some((id, secret)) = basic {
        if body_id.as_ref().is_some_and(|b| *b != id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Authorization header",
            ));
        }
        return Ok(Credentials::Secret {
            client_id: id,
            secret: secret.into(),
        });
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client("unsupported client_assertion_type"));
        }
        // The assertion names its client; it is verified against that client's keys.
        let client_id =
            unverified_subject(assertion).ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?;
        if body_id.as_ref().is_some_and(|b| *b != client_id) {
            return Err(OAuthError::invalid_client("client_id does not match the assertion"));
        }
        return Ok(Credentials::Assertion {
            client_id,
            assertion: assertion.to_string(),
        });
    }
    let client_id = body_id.ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    Ok(match body_secret {
        Some(secret) => Credentials::Secret {
            client_id,
            secret: secret.into(),
        },
        None => Credentials::None { client_id },
    })
}

fn unverified_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_string)
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client("unsupported authentication scheme"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    let id = unescape(id)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok(Some((id, unescape(secret)?)))
}
