//! `/device` (RFC 8628 §3.3): where the user of a device without a browser types the code
//! it shows, sees which app asks for what, and approves or denies it. The page needs a
//! signed-in session; the approval carries that session's sign-in to the device's tokens.
//! Typing codes shares the per-IP limit of the sign-in forms, so the codes' 34 bits
//! cannot be walked through.

use super::forms;
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::{found, read_form};
use crate::mfa;
use crate::oauth::consent::describe_scope;
use crate::oauth::device::{display, normalise};
use crate::sessions;
use crate::state::AppState;
use crate::store::device_codes::Approval;
use crate::store::sessions::SessionRow;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

pub const PATH: &str = crate::oauth::DEVICE_PAGE;
const DECIDE_PATH: &str = "/device/decide";

#[derive(Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// The signed-in session, or the login page that comes back here (code kept).
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    code: Option<&str>,
) -> Result<Result<SessionRow, Response>, AppError> {
    if let Some(session) = sessions::current(state, headers).await? {
        return Ok(Ok(session));
    }
    let back = match code.and_then(normalise) {
        Some(code) => format!("{PATH}?user_code={}", display(&code)),
        None => PATH.to_string(),
    };
    let back: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    Ok(Err(found(&format!("/login?return_to={back}"))))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<DeviceQuery>,
) -> Result<Response, AppError> {
    let session = match signed_in(&state, &headers, query.user_code.as_deref()).await? {
        Ok(session) => session,
        Err(login) => return Ok(login),
    };
    let code = query.user_code.as_deref().and_then(normalise).map(|c| display(&c));
    Ok(entry(&state, &session, code.as_deref(), StatusCode::OK, None))
}

fn entry(
    state: &AppState,
    session: &SessionRow,
    code: Option<&str>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    state.pages.render(
        status,
        "device.html",
        context! { user_code => code, error, csrf_token => session.csrf_token },
    )
}

/// `POST /device`: the typed code; answers the approval page for its request.
pub async fn submit(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(limited) = forms::limit(&state, ip, "device") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let typed = params.get("user_code").unwrap_or_default().to_string();
    let session = match signed_in(&state, &headers, Some(&typed)).await? {
        Ok(session) => session,
        Err(login) => return Ok(login),
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    let not_found = "That code is not right, or it has expired. Check the code your device shows.";
    let Some(code) = normalise(&typed) else {
        return Ok(entry(
            &state,
            &session,
            Some(&typed),
            StatusCode::BAD_REQUEST,
            Some(not_found),
        ));
    };
    let Some(request) = state.store.pending_device_request(&code, state.clock.now()).await? else {
        return Ok(entry(
            &state,
            &session,
            Some(&typed),
            StatusCode::BAD_REQUEST,
            Some(not_found),
        ));
    };
    let client_name = state
        .clients
        .get(&state.store, &request.client_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let username = state
        .store
        .account_by_id(&session.user_id)
        .await?
        .map(|a| a.username)
        .unwrap_or_default();
    let scopes: Vec<String> = request
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(describe_scope)
        .collect();
    Ok(state.pages.render(
        StatusCode::OK,
        "device_confirm.html",
        context! {
            client_name, scopes, username,
            user_code => display(&code),
            action => DECIDE_PATH,
            csrf_token => session.csrf_token,
        },
    ))
}

/// `POST /device/decide`: approve or deny. A client or an operator that requires a second
/// factor gets one: a session without it is sent to give it first.
pub async fn decide(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let typed = params.get("user_code").unwrap_or_default().to_string();
    let session = match signed_in(&state, &headers, Some(&typed)).await? {
        Ok(session) => session,
        Err(login) => return Ok(login),
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    let now = state.clock.now();
    let gone = || {
        state.pages.error(
            StatusCode::BAD_REQUEST,
            "This code has expired",
            "The request was already answered or took too long. Start again on your device.",
        )
    };
    let Some(code) = normalise(&typed) else {
        return Ok(gone());
    };
    let Some(request) = state.store.pending_device_request(&code, now).await? else {
        return Ok(gone());
    };
    if params.get("decision") != Some("allow") {
        state.store.deny_device(&code, now).await?;
        return Ok(done(
            &state,
            "Request denied",
            "Nothing was connected. You can close this page.",
        ));
    }
    let requires = state
        .clients
        .get(&state.store, &request.client_id)
        .await?
        .is_some_and(|c| c.require_mfa);
    if mfa::required(&state.config, requires).is_some_and(|need| !need.met_by(&session)) {
        return Ok(state.pages.error(
            StatusCode::FORBIDDEN,
            "This device needs a second factor",
            "Sign out, sign in again with your authenticator app or passkey (set one up on your account page), then enter the code again.",
        ));
    }
    let approval = Approval {
        user_id: &session.user_id,
        session_id: &session.id,
        auth_time: session.auth_time,
        amr: &session.amr,
        idp: session.idp.as_deref(),
    };
    if !state.store.approve_device(&code, &approval, now).await? {
        return Ok(gone());
    }
    tracing::info!(user_id = %session.user_id, client_id = %request.client_id, "device approved");
    Ok(done(
        &state,
        "Device connected",
        "You can return to your device: it signs in within a few seconds.",
    ))
}

fn done(state: &AppState, title: &str, message: &str) -> Response {
    state
        .pages
        .render(StatusCode::OK, "message.html", context! { title, message })
}
