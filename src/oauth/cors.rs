//! CORS for the endpoints a browser app calls itself: token, userinfo and revocation.
//! Allowed origins are those of registered redirect URIs (a browser app runs where it
//! receives its code). No credentials are ever allowed; discovery and JWKS answer `*`
//! on their own, and HTML pages never answer CORS at all.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const CORS_PATHS: &[&str] = &[super::TOKEN, super::USERINFO, super::REVOKE];
async fn allowed(state: &AppState, origin: &str) -> bool {
    let now = state.clock.now();
    let origins = match state.cors_origins.fresh(now) {
        Some(origins) => origins,
        None => {
            let Ok(clients) = state.store.clients().await else {
                return false;
            };
            state
                .cors_origins
                .put(now, clients.iter().flat_map(|c| c.origins()).collect())
        }
    };
    origins.iter().any(|o| o == origin)
}

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(origin) = origin.filter(|_| CORS_PATHS.contains(&request.uri().path())) else {
        return next.run(request).await;
    };
    let ok = allowed(&state, &origin).await;
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let (true, Ok(value)) = (ok, HeaderValue::from_str(&origin)) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, dpop"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("www-authenticate, dpop-nonce"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    response
}
