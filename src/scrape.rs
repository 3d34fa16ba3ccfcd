//! `GET /metrics` (Prometheus text format) and the layer that counts every HTTP request.
//! The metrics themselves are [`crate::metrics`].

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

pub const PATH: &str = "/metrics";

/// Reads the gauges that describe state from their sources, then answers every metric.
pub async fn get(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    let pool = state.store.pool();
    let idle = pool.num_idle() as i64;
    m.db_connections.with_label_values(&["idle"]).set(idle);
    m.db_connections
        .with_label_values(&["in_use"])
        .set(i64::from(pool.size()) - idle);
    let mail = state.store.pending_mail_count().await;
    let logouts = state.store.pending_logout_count().await;
    m.db_up.set(i64::from(mail.is_ok() && logouts.is_ok()));
    if let (Ok(mail), Ok(logouts)) = (mail, logouts) {
        m.outbox_pending.with_label_values(&["mail"]).set(mail);
        m.outbox_pending.with_label_values(&["backchannel"]).set(logouts);
    }
    let now = state.clock.now();
    let age = state.keys.current().signing_meta(now).map(|k| now - k.created_at);
    m.signing_key_age.set(age.unwrap_or(0));
    match m.encode() {
        Ok(text) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(e) => crate::error::AppError::Internal(e).into_response(),
    }
}

/// Counts each request by its route pattern (never the raw path, which a client chooses),
/// method and status, and times it.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.http_duration
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[&route, method, response.status().as_str()])
        .inc();
    let failed = crate::request_id::failures();
    // One per request, however many times the failure was logged on its way out.
    if failed.unavailable > 0 {
        m.server_errors.with_label_values(&["database_unavailable"]).inc();
    } else if failed.internal > 0 {
        m.server_errors.with_label_values(&["internal"]).inc();
    }
    response
}
