//! The state every handler gets: configuration and the service handles (store, keys,
//! pages, mailer, hasher, limiter, clock). It sits below the handlers and above the
//! services, so a handler imports it and nothing it holds imports a handler.

use crate::client_cache::ClientCache;
use crate::clients::OriginCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::Keys;
use crate::limiter::RateLimiter;
use crate::mail::Mailer;
use crate::pages::Pages;
use crate::password::PasswordHasherPool;
use crate::store::Store;
use crate::upstream::Upstreams;
use std::sync::Arc;

/// What a handler reaches through [`AppState`].
pub struct Services {
    pub config: Arc<Config>,
    pub store: Store,
    pub keys: Arc<Keys>,
    pub pages: Pages,
    pub hasher: PasswordHasherPool,
    pub clock: Clock,
    pub discovery: Arc<str>,
    /// For calls to what clients registered: their key sets and request objects,
    /// sector documents, back-channel logout deliveries (guarded against SSRF).
    pub outbound: crate::outbound::Outbound,
    /// The key sets clients publish at their `jwks_uri`, as last fetched.
    pub client_keys: crate::client_keys::ClientKeySets,
    /// Wakes the back-channel logout worker when a delivery is queued.
    pub backchannel_wake: Arc<tokio::sync::Notify>,
    pub cors_origins: Arc<OriginCache>,
    /// Registered clients in memory, for the authentication on every token request.
    pub clients: ClientCache,
    /// The `sub` each client sees: the user id, or its pairwise value (OIDC Core §8).
    pub subjects: crate::subject::Subjects,
    pub mailer: Arc<Mailer>,
    pub limiter: Arc<RateLimiter>,
    /// The `[[upstream]]` providers users may sign in with.
    pub upstreams: Arc<Upstreams>,
    /// The WebAuthn relying party for passkeys; `None` when the issuer's host is an IP
    /// address, which browsers refuse as a relying-party id.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Prometheus counters and gauges, served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Every middleware layer and handler takes its own clone for each request, so the state
/// is one pointer: a clone is one atomic increment, not one per service it holds.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
