//! The JWKS response, and the shape discovery shares with it: public, cacheable, readable from any origin (CORS `*`
//! without credentials), so browser apps and services can verify tokens offline.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Short enough that a rotated key reaches verifiers well within the rotation delay.
const MAX_AGE: &str = "public, max-age=300";

pub async fn jwks(State(state): State<AppState>) -> Response {
    public_json(state.keys.jwks_json())
}

pub fn public_json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE)),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        ],
        body,
    )
        .into_response()
}
