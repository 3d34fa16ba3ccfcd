//! The upstream OpenID Connect providers users can sign in with, as a relying party:
//! discovery (fetched when first needed, cached, retried), the authorization request,
//! and the code exchange with a fully validated ID token. What an identity then means
//! for a local account is `accounts::upstream`'s business.

mod identity;
mod provider;

pub use identity::Identity;
pub use provider::{Provider, Trip};

use crate::config::Config;
use std::sync::Arc;
use std::time::Duration;

/// Why an upstream sign-in could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Discovery, the token endpoint or the JWKS did not answer in time, or answered badly.
    #[error("the provider is unreachable: {0}")]
    Unreachable(String),
    /// The user said no at the provider (`error=access_denied`).
    #[error("the user cancelled at the provider")]
    Denied,
    /// The provider answered the authorization with another error.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The token response or its ID token failed validation.
    #[error("invalid ID token: {0}")]
    BadToken(String),
}

/// How long a call to an upstream may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Every configured upstream, by id.
pub struct Upstreams {
    providers: Vec<Arc<Provider>>,
}

impl Upstreams {
    pub fn new(config: &Config) -> anyhow::Result<Upstreams> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(TIMEOUT)
            .build()?;
        let providers = config
            .upstreams
            .iter()
            .map(|u| {
                let redirect_uri = config.url_for(&callback_path(&u.id));
                tracing::info!(upstream = %u.id, issuer = %u.issuer, %redirect_uri, "upstream configured; register this redirect URI at the provider");
                Arc::new(Provider::new(u.clone(), redirect_uri, http.clone()))
            })
            .collect();
        Ok(Upstreams { providers })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Provider>> {
        self.providers.iter().find(|p| p.config.id == id).cloned()
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// The upstream an identity's issuer belongs to, if it is still configured.
    pub fn by_issuer(&self, issuer: &str) -> Option<Arc<Provider>> {
        self.providers.iter().find(|p| p.issuer_key() == issuer).cloned()
    }
}

/// Where an upstream sends the user back: `{issuer}/login/upstream/{id}/callback`.
pub fn callback_path(id: &str) -> String {
    format!("/login/upstream/{id}/callback")
}
