//! `GET /session/whoami`: is this browser signed in, and as whom? For an app served from
//! Gatehouse's own host (one reverse proxy in front of both, or an `auth_request`-style
//! forward check) that wants Gatehouse's session instead of tokens. The answer is
//! per-cookie and never cached; it names only the holder's own account, and it carries no
//! CORS headers, so another site's script cannot read it (the cookie is SameSite=Lax and
//! HttpOnly besides).

use crate::error::AppError;
use crate::sessions;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub const PATH: &str = "/session/whoami";

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let body = match sessions::current(&state, &headers).await? {
        Some(s) => (
            StatusCode::OK,
            Json(json!({
                "sub": s.user_id,
                "auth_time": s.auth_time,
                "amr": s.amr.split(' ').collect::<Vec<_>>(),
                "idp": s.idp,
                "expires_at": s.expires_at,
            })),
        ),
        // OIDC's name for "no live session"; a 401 lets a reverse proxy's auth check
        // send the browser to sign in.
        None => (StatusCode::UNAUTHORIZED, Json(json!({ "error": "login_required" }))),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    Ok(response)
}
