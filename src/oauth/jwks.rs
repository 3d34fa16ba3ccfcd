//! The JWKS response, and the shape discovery shares with it: public, cacheable, readable from any origin (CORS `*`
//! without credentials), so browser apps and services can verify tokens offline.

use crate::config::JWKS_CACHE_SECS;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub async fn jwks(State(state): State<AppState>) -> Response {
    public_json(state.keys.jwks_json())
}

pub fn public_json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            // Short enough that a rotated key reaches verifiers within the rotation delay,
            // which the configuration keeps at least this long.
            (header::CACHE_CONTROL, cache_control()),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        ],
        body,
    )
        .into_response()
}

fn cache_control() -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={JWKS_CACHE_SECS}"))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"))
}
