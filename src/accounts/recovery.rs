//! Forgot password → emailed link → new password. The request page answers the same for
//! every identifier. The link's token leaves the URL on first load (into a cookie scoped
//! to /reset), so it cannot leak through history or Referer. A reset ends every session
//! and revokes every token of the account, invalidates older links, and sends a notice;
//! the user then signs in again.

use super::forms::{self, RESET_TTL};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::cookies;
use crate::error::AppError;
use crate::http::read_form;
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::users::Account;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

const RESET_COOKIE: &str = "gatehouse_reset";

#[derive(Deserialize)]
pub struct LinkQuery {
    request_id: Option<String>,
    token: Option<String>,
}

fn reset_cookie_name(state: &AppState) -> String {
    if state.config.is_https() {
        format!("__Secure-{RESET_COOKIE}")
    } else {
        RESET_COOKIE.to_string()
    }
}

/// The reset token, moved out of the URL: sent only to /reset, never cross-site.
fn reset_cookie(state: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, AppError> {
    let scope = cookies::Scope {
        path: "/reset",
        same_site: cookies::SameSite::Strict,
        secure: state.config.is_https(),
    };
    cookies::set(&reset_cookie_name(state), value, &scope, Some(max_age))
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LinkQuery>) -> Response {
    forgot_form(&state, &headers, StatusCode::OK, q.request_id.as_deref(), "", None)
}

fn forgot_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    request_id: Option<&str>,
    identifier: &str,
    error: Option<&str>,
) -> Response {
    forms::anonymous_page(
        state,
        headers,
        status,
        "forgot.html",
        context! { request_id, identifier, error },
    )
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(limited) = forms::limit(&state, ip, "forgot") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let identifier = params.get("identifier").unwrap_or_default().trim().to_string();
    let request_id = forms::live_request(&state, params.get("request_id")).await?;
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(forgot_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            request_id.as_deref(),
            &identifier,
            Some(forms::FORM_EXPIRED),
        ));
    }
    if let Some(account) = state.store.account_by_identifier(&identifier).await? {
        if account.email_verified != 0 {
            // Issued after the answer, so a known identifier costs the request no more
            // time than an unknown one.
            let state = state.clone();
            tokio::spawn(async move {
                let sent = super::mail::link(&state, reset_link(&account, request_id.as_deref()), context! {}).await;
                if let Err(e) = sent {
                    e.log();
                }
            });
        }
    }
    Ok(forms::message(
        &state,
        &headers,
        StatusCode::OK,
        context! {
            title => "Check your email",
            message => "If an account matches what you entered, we sent it a link to choose a new password. It expires in an hour.",
        },
    ))
}

/// `GET /reset?token=…` moves the token into a cookie and reloads without it;
/// `GET /reset` shows the form if the token in the cookie is live.
pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> Result<Response, AppError> {
    if let Some(token) = q.token.filter(|t| !t.is_empty()) {
        // Only our own token shape goes near a header; anything else is a dead link.
        if !secrets::is_token(&token) {
            return Ok(expired(&state, &headers));
        }
        let mut response = crate::http::found("/reset");
        response
            .headers_mut()
            .append(header::SET_COOKIE, reset_cookie(&state, &token, RESET_TTL)?);
        return Ok(response);
    }
    let token = cookies::read(&headers, &reset_cookie_name(&state)).unwrap_or_default();
    if state
        .store
        .peek_email_token(&secrets::digest(&token), "reset", state.clock.now())
        .await?
        .is_none()
    {
        return Ok(expired(&state, &headers));
    }
    Ok(reset_form(&state, &headers, StatusCode::OK, None))
}

fn reset_form(state: &AppState, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    forms::anonymous_page(
        state,
        headers,
        status,
        "reset.html",
        context! { error, min_length => state.config.accounts.password_min_length },
    )
}

pub async fn reset(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(reset_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some(forms::FORM_EXPIRED),
        ));
    }
    let now = state.clock.now();
    let token = cookies::read(&headers, &reset_cookie_name(&state)).unwrap_or_default();
    let digest = secrets::digest(&token);
    // The new password is accepted only together with a live token (no flow skipping).
    let Some(peeked) = state.store.peek_email_token(&digest, "reset", now).await? else {
        return Ok(expired(&state, &headers));
    };
    let Some(account) = state.store.account_by_id(&peeked.user_id).await? else {
        return Ok(expired(&state, &headers));
    };
    let new_password = match forms::new_password(&state, &account, &params) {
        Ok(password) => password,
        Err(e) => return Ok(reset_form(&state, &headers, StatusCode::BAD_REQUEST, Some(&e))),
    };
    let Some(link) = state.store.take_email_token(&digest, "reset", now).await? else {
        return Ok(expired(&state, &headers));
    };
    if link.email != account.email {
        return Ok(expired(&state, &headers));
    }
    let hash = state.hasher.hash(new_password).await?;
    state.store.set_password_hash(&account.id, &hash, now).await?;
    after_password_change(&state, &account.id, Afterwards::EndEverything).await?;
    state
        .store
        .clear_login_failures(&crate::users::identifier_key(&account.username))
        .await?;
    state
        .store
        .clear_login_failures(&crate::users::identifier_key(&account.email))
        .await?;
    super::mail::notice(
        &state,
        &account.email,
        "password_changed",
        context! { name => account.given_name },
    )
    .await?;
    tracing::info!(user_id = %account.id, "password reset");
    let event = Event::new(Action::PasswordReset).actor(&account.id);
    audit::record(&state, ip.0, &headers, event).await;
    let mut response = forms::message(
        &state,
        &headers,
        StatusCode::OK,
        context! {
            title => "Password changed",
            message => "Your new password is set and you were signed out everywhere. Sign in with it now.",
            link => "/login", link_label => "Sign in",
        },
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, reset_cookie(&state, "", 0)?);
    Ok(response)
}

/// The password-reset link for `account`, continuing `request_id` afterwards.
pub fn reset_link<'a>(account: &'a Account, request_id: Option<&'a str>) -> super::mail::Link<'a> {
    super::mail::Link {
        user_id: &account.id,
        name: &account.given_name,
        to: &account.email,
        purpose: "reset",
        path: "/reset",
        ttl: RESET_TTL,
        request_id,
        browser_hash: None,
        template: "reset",
        label: "Choose a new password",
    }
}

/// What a password change ends besides the old password.
pub enum Afterwards<'a> {
    /// A reset: every session and every grant, offline ones included.
    EndEverything,
    /// A change on the account page: the other sessions with their tokens, and every
    /// app's offline access except what this session holds.
    EndAllBut(&'a str),
    /// A change on the account page where the user chose to stay signed in elsewhere.
    KeepSessions,
}

/// What a password change means for everything issued before it: emailed links die
/// always; sessions and grants as `afterwards` says.
pub async fn after_password_change(
    state: &AppState,
    user_id: &str,
    afterwards: Afterwards<'_>,
) -> Result<(), AppError> {
    let now = state.clock.now();
    state.store.drop_email_tokens(user_id).await?;
    let keep = match afterwards {
        Afterwards::KeepSessions => return Ok(()),
        Afterwards::EndEverything => None,
        Afterwards::EndAllBut(session_id) => Some(session_id),
    };
    let ended = state.store.end_user_sessions(user_id, keep).await?;
    sessions::ended(state, &ended).await?;
    match keep {
        None => state.store.revoke_user_grants(user_id, now).await?,
        Some(session_id) => {
            state
                .store
                .revoke_offline_grants(user_id, Some(session_id), now)
                .await?
        }
    };
    Ok(())
}

fn expired(state: &AppState, headers: &HeaderMap) -> Response {
    forms::message(
        state,
        headers,
        StatusCode::BAD_REQUEST,
        context! {
            title => "This link has expired",
            message => "Reset links work once, for an hour, and only the newest one works. Ask for a new one.",
            link => "/forgot", link_label => "Send a new link",
        },
    )
}
