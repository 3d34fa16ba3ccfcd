//! The application: the one route table, the middleware around it, and the background
//! workers. Nothing imports this module but `main` and the tests.

use crate::accounts::{
    consents, contact, device, email_change, login, passkeys, profile, recovery, second_factor, signup, two_factor,
    upstream, whoami,
};
use crate::client_cache::ClientCache;
use crate::client_ip;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::Keys;
use crate::limiter::RateLimiter;
use crate::mail::Mailer;
use crate::oauth::{
    self, authorize, backchannel, consent, discovery, end_session, introspect, jwks, revoke, token, userinfo,
};
use crate::pages::{Pages, FORM_POST_SCRIPT, STYLESHEET};
use crate::password::PasswordHasherPool;
use crate::request_id::RequestId;
use crate::state::{AppState, Services};
use crate::store::Store;
use anyhow::Context;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// A bound, ready-to-serve Gatehouse.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// Set when Gatehouse terminates TLS itself.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// `metrics_listen`, bound at build so a taken port stops startup.
    metrics_listener: Option<TcpListener>,
}

impl App {
    /// Opens the store (migrating it), loads or creates keys, binds `config.listen`.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<App> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        App::build_on(listener, config, clock).await
    }

    /// As [`App::build`], on a listener bound by the caller (tests bind port 0 first, so
    /// the issuer can name the port).
    pub async fn build_on(listener: TcpListener, config: Config, clock: Clock) -> anyhow::Result<App> {
        let store = Store::connect_with(config.database_url.expose_secret(), &config.database).await?;
        store.migrate().await?;
        let keys = Keys::open(&store, &config, clock.now()).await?;
        let clients = ClientCache::default();
        clients.refresh(&store).await?;
        let subjects = crate::subject::Subjects::load(&store, clock.now()).await?;
        let metrics = Arc::new(crate::metrics::Metrics::new()?);
        let state = AppState::new(Services {
            clients,
            subjects,
            pages: Pages::new(&config)?,
            hasher: PasswordHasherPool::new(&config.password_hashing)?.with_wait_metric(metrics.hash_wait.clone()),
            discovery: discovery::document(&config).into(),
            keys: Arc::new(keys),
            outbound: crate::outbound::Outbound::new(&config.outbound)?,
            client_keys: Default::default(),
            backchannel_wake: Arc::new(tokio::sync::Notify::new()),
            cors_origins: Arc::default(),
            mailer: Arc::new(Mailer::new(&config.mail, config.accounts.mail_per_recipient_per_hour)?),
            limiter: Arc::new(RateLimiter::new(config.accounts.rate_limit_per_minute)),
            upstreams: Arc::new(crate::upstream::Upstreams::new(&config)?),
            webauthn: crate::accounts::passkeys::relying_party(&config)?,
            metrics,
            store,
            clock,
            config: Arc::new(config),
        });
        let tls = match (&state.config.tls.cert_file, &state.config.tls.key_file) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        let metrics_listener = match state.config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on metrics_listen {addr}"))?,
            ),
            None => None,
        };
        Ok(App {
            router: router(state.clone()),
            listener,
            state,
            tls,
            metrics_listener,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Where `/metrics` is served when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until ctrl-c / SIGTERM, then finishes in-flight requests.
    pub async fn serve(self) -> anyhow::Result<()> {
        let janitor = tokio::spawn(crate::janitor::run(self.state.clone()));
        let logouts = tokio::spawn(backchannel::worker(self.state.clone()));
        let key_reload = tokio::spawn(reload_keys(self.state.clone()));
        let client_watch = tokio::spawn(watch_clients(self.state.clone()));
        let metrics = self.metrics_listener.map(|listener| {
            let router = Router::new()
                .route(crate::scrape::PATH, get(crate::scrape::get))
                .with_state(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let mail = tokio::spawn(crate::mail::worker(
            self.state.store.clone(),
            self.state.mailer.clone(),
            self.state.clock.clone(),
            self.state.metrics.outbox_failures.clone(),
        ));
        match self.tls {
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(self.listener, tls).context("cannot start TLS")?;
                crate::serve::serve(listener, self.router, &self.state.config.http, shutdown_signal()).await
            }
            None => crate::serve::serve(self.listener, self.router, &self.state.config.http, shutdown_signal()).await,
        }
        janitor.abort();
        logouts.abort();
        key_reload.abort();
        client_watch.abort();
        mail.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        self.state.store.close().await;
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(oauth::DISCOVERY, get(discovery::get))
        .route(oauth::JWKS, get(jwks::jwks))
        .route(oauth::AUTHORIZE, get(authorize::get).post(authorize::post))
        .route(oauth::AUTHORIZE_RESUME, get(authorize::resume))
        .route(oauth::TOKEN, axum::routing::post(token::post))
        .route(oauth::USERINFO, get(userinfo::get).post(userinfo::post))
        .route("/consent", get(consent::show).post(consent::decide))
        .route("/account/consents", get(consents::list))
        .route("/account/consents/revoke", axum::routing::post(consents::revoke))
        .route("/login", get(login::show).post(login::submit))
        .route("/signup", get(signup::show).post(signup::submit))
        .route("/signup/confirm", get(signup::confirm_page).post(signup::confirm))
        .route("/signup/resend", axum::routing::post(signup::resend))
        .route("/forgot", get(recovery::show).post(recovery::submit))
        .route("/reset", get(recovery::reset_page).post(recovery::reset))
        .route("/login/upstream/continue", get(upstream::steps::show))
        .route(
            "/login/upstream/username",
            axum::routing::post(upstream::steps::username),
        )
        .route(
            "/login/upstream/link",
            axum::routing::post(upstream::steps::link_with_password),
        )
        .route(
            "/login/upstream/link/email",
            axum::routing::post(upstream::steps::link_by_email),
        )
        .route("/login/upstream/link/confirm", get(upstream::steps::link_confirmed))
        .route("/login/upstream/confirm", get(upstream::steps::confirmed))
        .route("/login/upstream/{id}", axum::routing::post(upstream::start))
        .route("/login/upstream/{id}/callback", get(upstream::callback))
        .route(
            "/account/upstream/{id}/link",
            axum::routing::post(upstream::account::start_link),
        )
        .route(
            "/account/upstream/{id}/reauth",
            axum::routing::post(upstream::account::start_reauth),
        )
        .route(
            "/account/identities/unlink",
            axum::routing::post(upstream::account::unlink),
        )
        .route(whoami::PATH, get(whoami::get))
        .route("/account", get(profile::show))
        .route("/account/profile", axum::routing::post(profile::update_profile))
        .route("/account/contact", axum::routing::post(contact::update))
        .route("/account/email", axum::routing::post(email_change::change_email))
        .route(
            "/account/email/confirm",
            get(email_change::confirm_email_page).post(email_change::confirm_email),
        )
        .route(
            "/account/email/revert",
            get(email_change::revert_email_page).post(email_change::revert_email),
        )
        .route("/account/password", axum::routing::post(profile::change_password))
        .route(
            "/account/sessions/end",
            axum::routing::post(profile::end_other_sessions),
        )
        .route("/account/delete", axum::routing::post(profile::delete))
        .merge(passkeys::routes())
        .merge(crate::admin::api::routes())
        .merge(oauth::registration::routes(state.config.registration.mode))
        .merge(crate::admin::console::routes())
        .route(
            second_factor::PATH,
            get(second_factor::show).post(second_factor::submit),
        )
        .merge(two_factor::routes())
        .route(oauth::END_SESSION, get(end_session::get).post(end_session::post))
        .route("/logout/confirm", axum::routing::post(end_session::confirm))
        .route(oauth::DEVICE_AUTHORIZATION, axum::routing::post(oauth::device::post))
        .route(device::PATH, get(device::show).post(device::submit))
        .route("/device/decide", axum::routing::post(device::decide))
        .route(oauth::PAR, axum::routing::post(oauth::par::post))
        .route(oauth::INTROSPECT, axum::routing::post(introspect::post))
        .route(oauth::REVOKE, axum::routing::post(revoke::post))
        .route("/", get(login::home))
        .route("/assets/gatehouse.css", get(stylesheet))
        .route("/assets/form_post.js", get(form_post_script))
        .route("/assets/theme.css", get(theme))
        .route("/healthz", get(alive))
        .route("/readyz", get(ready));
    // On its own address when one is set: then the public listener has no /metrics.
    let routes = match state.config.metrics_listen {
        None => routes.route(crate::scrape::PATH, get(crate::scrape::get)),
        Some(_) => routes,
    };
    let routes = routes
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::scrape::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), oauth::cors::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::layer))
        .with_state(state);
    harden(routes)
}

/// The layers around every route: a deadline, panics caught as a generic 500, the
/// response headers every answer carries, the request's log span and correlation id.
fn harden(routes: Router) -> Router {
    routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!(request_id = ?crate::request_id::current(), "a handler panicked");
            let body = crate::error::with_reference("Something went wrong on our side.");
            (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }))
        // Outside the timeout and panic layers, so their answers get these too.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Pages set their whole policy; every other answer (JSON, a plain-text 5xx) still
        // refuses to be framed.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .extensions()
                    .get::<RequestId>()
                    .map(|r| r.0.clone())
                    .unwrap_or_default();
                // Path only: query strings carry codes, states and hints.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(axum::middleware::from_fn(crate::request_id::layer))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn theme(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        state.pages.theme_css.clone(),
    )
        .into_response()
}

async fn form_post_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        FORM_POST_SCRIPT,
    )
        .into_response()
}

/// Liveness: the process is up and serving. A load balancer restarts nothing on a
/// database outage because of it.
async fn alive() -> Response {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "ok").into_response()
}

/// Readiness: 200 when the database answers and a signing key is active; 503 otherwise, so a
/// load balancer sends traffic elsewhere meanwhile.
async fn ready(State(state): State<AppState>) -> Response {
    let now = state.clock.now();
    let problem = match state.store.ping().await {
        Err(e) => Some(format!("database unavailable: {e}")),
        // The loaded set was parsed and checked when it loaded; no RSA work per probe.
        Ok(()) => (!state.keys.current().can_sign(now)).then(|| "no usable signing key: none is active".to_string()),
    };
    match problem {
        None => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "ready").into_response(),
        Some(problem) => {
            tracing::warn!(%problem, "readiness check failed");
            let body = problem.split(':').next().unwrap_or("not ready").to_string();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                body,
            )
                .into_response()
        }
    }
}

async fn not_found(State(state): State<AppState>) -> Response {
    state.pages.error(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
    )
}

/// Forgets the cached clients when one changed anywhere (see `client_cache`).
async fn watch_clients(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(crate::client_cache::POLL_SECS));
    loop {
        tick.tick().await;
        if let Err(e) = state.clients.refresh(&state.store).await {
            // Keeps serving from the cache; the next tick tries again.
            tracing::warn!(error = %e, "cannot read the client generation");
        }
    }
}

/// Picks up keys added or retired on disk while running.
async fn reload_keys(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        match state.keys.reload_if_changed(state.clock.now()).await {
            Ok(true) => tracing::info!("signing keys reloaded"),
            Ok(false) => {}
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "signing keys changed but cannot be loaded; keeping the previous set"
            ),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    /// Checklist H3: no route of ours can be made to panic from outside, so a route that
    /// does is put behind the same layers.
    #[tokio::test]
    async fn a_panicking_handler_answers_a_generic_500_with_a_reference() {
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        let app = harden(Router::new().route("/boom", get(boom)));
        let request = axum::http::Request::get("/boom").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let h = response.headers();
        let id = h["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("Something went wrong") && body.contains(&format!("Reference: {id}")),
            "{body}"
        );
        assert!(!body.contains("secret detail"), "{body}");
        // The service is still there for the next request.
        let again = axum::http::Request::get("/boom").body(Body::empty()).unwrap();
        assert_eq!(
            app.oneshot(again).await.unwrap().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
