//! The client credentials grant (RFC 6749 §4.4): a service acting for itself. The access
//! token (RFC 9068) names the client as `sub` and is meant for one resource: the one asked
//! for with `resource` (RFC 8707), which must be among the client's registered audiences,
//! or its first audience. No ID token, no refresh token.

use super::{access_ttl, TokenResponse};
use crate::clients::Client;
use crate::http::{split_list, Params};
use crate::oauth::dpop_binding;
use crate::oauth::error::OAuthError;
use crate::secrets;
use crate::state::AppState;
use serde_json::json;

pub(super) async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let audience = match params.get("resource") {
        Some(resource) => {
            let valid = url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
            if !valid {
                return Err(OAuthError::invalid_target(
                    "resource must be an absolute URI without a fragment",
                ));
            }
            if !client.audiences.iter().any(|a| a == resource) {
                return Err(OAuthError::invalid_target(
                    "this client may not get tokens for that resource",
                ));
            }
            resource.to_string()
        }
        None => client
            .audiences
            .first()
            .cloned()
            .ok_or_else(|| OAuthError::invalid_target("no resource given and none registered"))?,
    };
    let allowed = client.allowed_scopes.clone().unwrap_or_default();
    let scope = match params.get("scope") {
        None => allowed.join(" "),
        Some(requested) => {
            let requested = split_list(Some(requested));
            if let Some(extra) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "this client may not request scope {extra:?}"
                )));
            }
            requested.join(" ")
        }
    };
    let now = state.clock.now();
    let ttl = access_ttl(state, client);
    let mut claims = json!({
        "iss": state.config.issuer_str(),
        "sub": client.id,
        "aud": audience,
        "client_id": client.id,
        "jti": secrets::random_id(),
        "iat": now,
        "exp": now + ttl,
    });
    if !scope.is_empty() {
        claims["scope"] = scope.clone().into();
    }
    if let Some(jkt) = dpop_jkt {
        claims["cnf"] = dpop_binding::confirmation(jkt);
    }
    let claims = match claims {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let access_token = state.keys.sign(crate::oauth::claims::ACCESS_TOKEN_TYP, claims, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: dpop_binding::token_type(dpop_jkt),
        expires_in: ttl,
        id_token: None,
        refresh_token: None,
        scope,
    })
}
