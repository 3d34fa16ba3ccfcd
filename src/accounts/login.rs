//! The hosted sign-in and sign-out pages, and the signed-in landing page.
//!
//! Login answers the same way, after the same argon2 work, whether the account is unknown
//! or the password wrong. A successful login always starts a new session.

use super::password::MAX_PASSWORD_BYTES;
use crate::app::AppState;
use crate::error::AppError;
use crate::oauth::authorize::AuthorizeRequest;
use crate::oauth::params::read_form;
use crate::sessions;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

const BAD_CREDENTIALS: &str = "Incorrect username or email, or password.";
const FORM_EXPIRED: &str = "This form expired or was sent from another site. Please try again.";

#[derive(Deserialize)]
pub struct LoginQuery {
    request_id: Option<String>,
}

/// The request being signed in for, if any: its client's name and login_hint.
struct Pending {
    id: String,
    client_name: String,
    login_hint: Option<String>,
}

async fn pending(state: &AppState, request_id: Option<&str>) -> Result<Option<Pending>, AppError> {
    let Some(id) = request_id.filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let Some((json, _)) = state.store.parked_request(id, state.clock.now()).await? else {
        return Ok(None);
    };
    let request: AuthorizeRequest =
        serde_json::from_str(&json).map_err(|e| anyhow::anyhow!("unreadable parked request: {e}"))?;
    let client_name = state
        .store
        .client(&request.client_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok(Some(Pending {
        id: id.to_string(),
        client_name,
        login_hint: request.login_hint,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let pending = pending(&state, query.request_id.as_deref()).await?;
    if query.request_id.is_some() && pending.is_none() {
        return Ok(expired(&state));
    }
    let identifier = pending.as_ref().and_then(|p| p.login_hint.clone()).unwrap_or_default();
    Ok(form(
        &state,
        &headers,
        StatusCode::OK,
        pending.as_ref(),
        &identifier,
        None,
    ))
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let pending = pending(&state, params.get("request_id")).await?;
    if params.get("request_id").is_some() && pending.is_none() {
        return Ok(expired(&state));
    }
    let identifier = params.get("identifier").unwrap_or_default().trim().to_string();
    if !sessions::same_origin(&state.config, &headers)
        || !sessions::anonymous_csrf_ok(&state.config, &headers, params.get("csrf_token"))
    {
        return Ok(form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            pending.as_ref(),
            &identifier,
            Some(FORM_EXPIRED),
        ));
    }
    let password = params.get("password").unwrap_or_default();
    let account = if identifier.is_empty() {
        None
    } else {
        state.store.account_by_identifier(&identifier).await?
    };
    // Oversized passwords are checked against the dummy hash (same cost) and always fail.
    let hash = account
        .as_ref()
        .filter(|_| password.len() <= MAX_PASSWORD_BYTES)
        .and_then(|a| a.password_hash.as_deref());
    let probe = if password.len() <= MAX_PASSWORD_BYTES {
        password
    } else {
        ""
    };
    let verified = state.hasher.verify(probe, hash).await?;
    let Some(account) = account.filter(|_| verified) else {
        tracing::info!("failed login");
        return Ok(form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            pending.as_ref(),
            &identifier,
            Some(BAD_CREDENTIALS),
        ));
    };
    let (_session, cookie) = sessions::start(&state, &headers, &account.id).await?;
    tracing::info!(user_id = %account.id, "login");
    let next = match &pending {
        Some(p) => format!("/authorize/resume/{}", p.id),
        None => "/".to_string(),
    };
    Ok(see_other(&next, Some(cookie)))
}

fn form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    pending: Option<&Pending>,
    identifier: &str,
    error: Option<&str>,
) -> Response {
    let (csrf_token, set_cookie) = sessions::anonymous_csrf(&state.config, headers);
    let mut response = state.pages.render(
        status,
        "login.html",
        context! {
            csrf_token,
            request_id => pending.map(|p| p.id.clone()),
            client_name => pending.map(|p| p.client_name.clone()),
            identifier,
            error,
        },
    );
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn expired(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "The sign-in took too long or was already completed. Go back to the app and start again.",
    )
}

fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_string())]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /`: who is signed in, with a sign-out button.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let session = sessions::current(&state, &headers).await?;
    let (user, csrf_token) = match &session {
        Some(s) => (state.store.account_by_id(&s.user_id).await?, s.csrf_token.clone()),
        None => (None, String::new()),
    };
    let user = user.map(|u| context! { username => u.username, email => u.email, given_name => u.given_name });
    Ok(state
        .pages
        .render(StatusCode::OK, "home.html", context! { user, csrf_token }))
}
