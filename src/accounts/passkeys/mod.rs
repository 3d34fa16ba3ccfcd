//! Passkeys (WebAuthn, through webauthn-rs): registered from the account page, used alone
//! to sign in (discoverable credentials, with user verification), or as a second factor.

use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;
use crate::users::Account;
use axum::Router;
use std::sync::Arc;
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// The relying party: its id is the issuer's host, its origin the issuer's origin. An
/// issuer on an IP address has no passkeys (browsers accept only domain names, and
/// `localhost`, as relying-party ids).
pub fn relying_party(config: &Config) -> anyhow::Result<Option<Arc<Webauthn>>> {
    let Some(url::Host::Domain(host)) = config.issuer.host() else {
        return Ok(None);
    };
    let origin = url::Url::parse(&config.issuer.origin().ascii_serialization())?;
    let webauthn = WebauthnBuilder::new(host, &origin)
        .and_then(|b| b.rp_name("Gatehouse").build())
        .map_err(|e| anyhow::anyhow!("cannot set up passkeys for the issuer {}: {e}", config.issuer_str()))?;
    Ok(Some(Arc::new(webauthn)))
}

/// The passkey routes (sign-in, second factor, registration and removal).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// What the account page shows about the user's passkeys.
pub async fn account_context(_state: &AppState, _account: &Account) -> Result<minijinja::Value, AppError> {
    Ok(minijinja::context! { passkeys => Vec::<minijinja::Value>::new() })
}
