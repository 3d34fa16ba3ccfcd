//! Client authentication at the token endpoint (RFC 6749 §2.3.1): client_secret_basic,
//! client_secret_post, or none for public clients. Secrets are compared as digests in
//! constant time; exactly one method per request.

use super::error::OAuthError;
use super::params::Params;
use crate::clients::Client;
use crate::store::Store;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

struct Presented {
    client_id: String,
    secret: Option<String>,
}

pub async fn authenticate(
    store: &Store,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, OAuthError> {
    let presented = presented_credentials(headers, params)?;
    let client = store
        .client(&presented.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client or bad credentials"))?;
    match (&presented.secret, client.is_public()) {
        (Some(secret), false) if client.secret_matches(secret) => Ok(client),
        (None, true) => Ok(client),
        (None, false) => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
        (Some(_), true) => Err(OAuthError::invalid_client("public clients have no secret")),
        (Some(_), false) => Err(OAuthError::invalid_client(
            "unknown client or bad credentials",
        )),
    }
}

fn presented_credentials(headers: &HeaderMap, params: &Params) -> Result<Presented, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    match basic {
        Some((id, secret)) => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the Authorization header",
                ));
            }
            Ok(Presented {
                client_id: id,
                secret: Some(secret),
            })
        }
        None => {
            let client_id = body_id
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?
                .to_string();
            Ok(Presented {
                client_id,
                secret: body_secret.map(str::to_string),
            })
        }
    }
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
        return Err(OAuthError::invalid_client(
            "unsupported authentication scheme",
        ));
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
