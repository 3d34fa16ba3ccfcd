//! Who may call the admin API: a bearer access token (RFC 6750) that Gatehouse issued,
//! still valid and unrevoked (the same check as userinfo and introspection), meant for
//! the admin API (`aud` is its base URL) and carrying the `gatehouse:admin` scope. Such a
//! token comes only from the client credentials grant of a client registered with that
//! scope; /authorize never releases it.

use crate::clients::ADMIN_SCOPE;
use crate::oauth::error::OAuthError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;

/// An admin caller, proven by its token.
pub struct Admin {
    /// The token's `sub`: the client id for client credentials.
    pub subject: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, OAuthError> {
        let token = crate::oauth::userinfo::bearer(&parts.headers, None)?;
        let now = state.clock.now();
        let (claims, _grant) = crate::oauth::inspect::active_access_token(state, &token, now)
            .await?
            .ok_or_else(|| OAuthError::invalid_token("the access token is invalid, expired or revoked"))?;
        let audience = state.config.url_for(super::BASE);
        if !crate::oauth::inspect::audience_contains(claims.get("aud"), &audience) {
            return Err(OAuthError::invalid_token("the token is not meant for the admin API"));
        }
        let scope = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
        if !scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(OAuthError::insufficient_scope(format!(
                "the admin API needs the {ADMIN_SCOPE} scope"
            )));
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Admin { subject })
    }
}
