//! An example API protected by Gatehouse, one route three ways: `/jwt/hello` verifies the
//! access token here, `/introspect/hello` asks Gatehouse about it on every request, and
//! `/session/hello` asks Gatehouse about the browser's session cookie. See README.md for
//! when to choose which. Both token routes honour DPoP-bound tokens (`dpop`).
//!
//! In-process: `start(config)` binds `config.listen` (port 0 is fine) and serves in the
//! background; or build `AppState::new(config)` and serve `router(state)` yourself.

pub mod dpop;
pub mod introspection;
pub mod jwt;
mod reply;
pub mod session;

pub use jwt::JwksVerifier;
pub use reply::{Granted, Refusal, Scheme};

use anyhow::Context;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::get;
use axum::Router;
use reqwest::header::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Flags, each with an environment fallback.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "resource-server", version, about = "An example API protected by Gatehouse")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "RESOURCE_SERVER_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// The URL callers reach this API at (behind a proxy, the proxy's), which DPoP proofs
    /// must name in `htu`. Defaults to `http://{listen}`.
    #[arg(long, env = "RESOURCE_SERVER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Gatehouse's issuer URL, exactly as in its tokens' `iss`.
    #[arg(long, env = "RESOURCE_SERVER_ISSUER")]
    pub issuer: String,
    /// This API's identifier: tokens must name it in `aud`.
    #[arg(long, env = "RESOURCE_SERVER_AUDIENCE")]
    pub audience: String,
    /// This API's own client id at Gatehouse, for introspection (client_secret_basic).
    #[arg(long, env = "RESOURCE_SERVER_INTROSPECTION_CLIENT_ID")]
    pub introspection_client_id: Option<String>,
    /// Its client secret.
    #[arg(long, env = "RESOURCE_SERVER_INTROSPECTION_CLIENT_SECRET", hide_env_values = true)]
    pub introspection_client_secret: Option<String>,
}

impl Config {
    /// A configuration without introspection, listening on `127.0.0.1:4000`.
    pub fn new(issuer: &str, audience: &str) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            public_url: None,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            introspection_client_id: None,
            introspection_client_secret: None,
        }
    }

    /// The public URL, defaulting to `http://{addr}` for the address actually bound (which
    /// differs from `listen` when that asks for port 0).
    pub fn with_bound_address(mut self, addr: SocketAddr) -> Config {
        self.public_url.get_or_insert_with(|| format!("http://{addr}"));
        self
    }
}

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    audience: String,
    jwks: JwksVerifier,
    introspection_url: String,
    whoami_url: String,
    introspection_credentials: Option<HeaderValue>,
    public_url: String,
    replays: dpop::ReplayCache,
}

impl AppState {
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let issuer = url::Url::parse(&config.issuer).context("--issuer must be an absolute URL")?;
        anyhow::ensure!(
            matches!(issuer.scheme(), "http" | "https"),
            "--issuer must be an http(s) URL"
        );
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen));
        let parsed = url::Url::parse(&public_url).context("--public-url must be an absolute URL")?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https") && parsed.query().is_none() && parsed.fragment().is_none(),
            "--public-url must be an http(s) URL without query or fragment"
        );
        let http = http_client()?;
        let base = config.issuer.trim_end_matches('/');
        let introspection_credentials = match (&config.introspection_client_id, &config.introspection_client_secret) {
            (Some(id), Some(secret)) => Some(introspection::basic_credentials(id, secret)?),
            (None, None) => None,
            _ => anyhow::bail!("give both --introspection-client-id and --introspection-client-secret, or neither"),
        };
        Ok(AppState {
            inner: Arc::new(Shared {
                jwks: JwksVerifier::new(http.clone(), &config.issuer, &config.audience, jwt::REFETCH_INTERVAL),
                http,
                audience: config.audience,
                introspection_url: format!("{base}/introspect"),
                whoami_url: format!("{base}/session/whoami"),
                introspection_credentials,
                public_url: public_url.trim_end_matches('/').to_string(),
                replays: dpop::ReplayCache::default(),
            }),
        })
    }

    pub fn jwks(&self) -> &JwksVerifier {
        &self.inner.jwks
    }

    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    fn introspection_url(&self) -> &str {
        &self.inner.introspection_url
    }

    fn whoami_url(&self) -> &str {
        &self.inner.whoami_url
    }

    fn introspection_credentials(&self) -> Option<&HeaderValue> {
        self.inner.introspection_credentials.as_ref()
    }

    /// The URL a caller reached `path` at, as a DPoP proof's `htu` names it.
    pub fn public_url_for(&self, path: &str) -> String {
        format!("{}{path}", self.inner.public_url)
    }

    /// RFC 9449 §7: a DPoP-bound token only under the DPoP scheme with a proof for this
    /// request by its key; an unbound one only as a bearer token.
    fn enforce_binding(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &Uri,
        (scheme, token): (Scheme, &str),
        cnf: Option<&serde_json::Value>,
    ) -> Result<(), Refusal> {
        let url = self.public_url_for(uri.path());
        // The clock `jsonwebtoken` checks the token's `exp` against, so both agree.
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        let request = dpop::Request {
            method,
            url: &url,
            access_token: token,
            now,
        };
        dpop::enforce(&self.inner.replays, headers, &request, scheme, cnf).inspect_err(|refusal| {
            tracing::debug!(?refusal, "token binding not honoured");
        })
    }
}

/// One client for every call to Gatehouse: its pool keeps connections alive, and the
/// timeouts turn a hung Gatehouse into a quick 503 instead of a hung request.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .context("HTTP client")
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/jwt/hello", get(jwt::hello))
        .route("/introspect/hello", get(introspection::hello))
        .route("/session/hello", get(session::hello))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// A server started by [`start`]; stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `config.listen`, loads the JWKS (a failure is logged, not fatal: it is tried
/// again on the first request) and serves in the background.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(config.with_bound_address(addr))?;
    warm_up(&state).await;
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "resource server stopped");
        }
    });
    Ok(Running { addr, state, task })
}

/// Fetches the JWKS so the first request does not wait for it.
pub async fn warm_up(state: &AppState) {
    if let Err(e) = state.jwks().load().await {
        tracing::warn!(error = %e, "JWKS not loaded at startup; will try again on first use");
    }
}
