//! Who may call the admin API: a bearer access token (RFC 6750) that Gatehouse issued,
//! still valid and unrevoked (the same check as userinfo and introspection), carrying the
//! `gatehouse:admin` scope. Either a client's own (client credentials, `aud` the admin
//! API's base URL), or a user's through a first-party app: /authorize grants the scope
//! only to a user with the admin role, and the role is checked again on every call.

use crate::admin::audit::Actor;
use crate::client_ip::ClientIp;
use crate::clients::ADMIN_SCOPE;
use crate::oauth::error::OAuthError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;

/// An admin caller, proven by its token.
pub struct Admin {
    /// The client id for client credentials, else the user id of the token's grant.
    pub subject: String,
    /// Who the audit trail names for this caller's changes.
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, OAuthError> {
        let token = crate::oauth::userinfo::bearer(&parts.headers, None)?;
        let now = state.clock.now();
        let (claims, grant) = crate::oauth::inspect::active_access_token(state, &token, now)
            .await?
            .ok_or_else(|| OAuthError::invalid_token("the access token is invalid, expired or revoked"))?;
        // RFC 9449 §7.1: a DPoP-bound token presented as a bearer token is refused; the
        // admin API takes bearer tokens only, so a stolen bound token opens nothing here.
        if crate::oauth::dpop_binding::bound_key(&claims).is_some() {
            return Err(OAuthError::invalid_token(
                "this token is DPoP-bound; the admin API takes only bearer tokens",
            ));
        }
        let aud = claims.get("aud");
        let for_admin_api = crate::oauth::inspect::audience_contains(aud, &state.config.url_for(super::BASE));
        // A user's token (one that belongs to a grant) is meant for Gatehouse itself.
        let users_token = grant.is_some() && crate::oauth::inspect::audience_contains(aud, state.config.issuer_str());
        if !for_admin_api && !users_token {
            return Err(OAuthError::invalid_token("the token is not meant for the admin API"));
        }
        let scope = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
        if !scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(OAuthError::insufficient_scope(format!(
                "the admin API needs the {ADMIN_SCOPE} scope"
            )));
        }
        // A user's token names the user through its grant, never through `sub`, which
        // is pairwise for some clients.
        let subject = match &grant {
            Some(grant) => grant.user_id.clone(),
            None => claims
                .get("sub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), |ip| ip.0);
        let actor = match grant {
            None => {
                // A client's own token: the client must still be there and still hold the
                // scope, so deleting it or taking the scope away stops its tokens at once.
                let client = state.clients.get(&state.store, client_id).await?;
                if !client.is_some_and(|c| c.allowed_scopes.iter().flatten().any(|s| s == ADMIN_SCOPE)) {
                    return Err(OAuthError::invalid_token(
                        "the client this token was issued to is gone or may no longer use the admin API",
                    ));
                }
                Actor::new(None, Some(client_id.to_string()), ip, &parts.headers)
            }
            Some(_) => {
                // A user's: the role is checked on every call, so revoking it (or
                // disabling the user) takes effect at once.
                let account = state.store.account_by_id(&subject).await?;
                if !account.is_some_and(|a| a.is_admin != 0 && a.disabled_at.is_none()) {
                    return Err(OAuthError::insufficient_scope("the user no longer has the admin role"));
                }
                Actor::new(Some(subject.clone()), Some(client_id.to_string()), ip, &parts.headers)
            }
        };
        Ok(Admin { subject, actor })
    }
}
