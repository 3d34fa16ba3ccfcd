//! What every account form shares: CSRF for anonymous and signed-in forms, the rate limit,
//! emailed links, and the parked authorization request a user came from.

use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::Params;
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::store::sessions::SessionRow;
use crate::users::Account;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

pub const FORM_EXPIRED: &str = "This form expired or was sent from another site. Please try again.";

pub const CONFIRM_TTL: i64 = 24 * 3600;
pub const RESET_TTL: i64 = 3600;

/// Checks an anonymous form (signup, forgot, reset, confirm): same origin and the
/// double-submit CSRF token.
pub fn anonymous_form_ok(state: &AppState, headers: &HeaderMap, params: &Params) -> bool {
    sessions::same_origin(&state.config, headers)
        && sessions::anonymous_csrf_ok(&state.config, headers, params.get("csrf_token"))
}

/// Checks a signed-in form: same origin and the session's own CSRF token.
pub fn session_form_ok(state: &AppState, headers: &HeaderMap, session: &SessionRow, params: &Params) -> bool {
    sessions::same_origin(&state.config, headers)
        && params
            .get("csrf_token")
            .is_some_and(|t| secrets::constant_time_eq(t, &session.csrf_token))
}

pub fn refused(state: &AppState) -> Response {
    state
        .pages
        .error(StatusCode::FORBIDDEN, "Request not accepted", FORM_EXPIRED)
}

/// Applies the per-IP limit for `action`, then the limit for all clients together (a
/// credential-stuffing run spread over many addresses); the 429 page when over either.
pub fn limit(state: &AppState, ip: ClientIp, action: &'static str) -> Result<(), Box<Response>> {
    let now = state.clock.now();
    let everyone = state.config.accounts.global_rate_limit_per_minute;
    state
        .limiter
        .check(action, ip.0, now)
        .and_then(|()| state.limiter.check_with(action, EVERYONE, now, everyone))
        .map_err(|wait| {
            state.metrics.rate_limited.with_label_values(&[action]).inc();
            Box::new(too_many(state, wait))
        })
}

/// The key under which all clients' attempts are counted together.
const EVERYONE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// 429 with Retry-After, as a page.
pub fn too_many(state: &AppState, retry_after: i64) -> Response {
    let mut response = state.pages.error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Please wait a minute and try again.",
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Renders a page whose forms are anonymous: adds `csrf_token` to the context and sets the
/// double-submit cookie when the browser has none yet.
pub fn anonymous_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
) -> Response {
    let (csrf_token, set_cookie) = match sessions::anonymous_csrf(&state.config, headers) {
        Ok(csrf) => csrf,
        Err(e) => return e.into_response(),
    };
    let mut response = state.pages.render(status, template, context! { csrf_token, ..ctx });
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A page with a title and a message (and an optional link or resend form).
pub fn message(state: &AppState, headers: &HeaderMap, status: StatusCode, ctx: minijinja::Value) -> Response {
    anonymous_page(state, headers, status, "message.html", ctx)
}

/// The page an emailed link opens: a button that POSTs the token to `action` (a GET,
/// such as a mail scanner following the link, must not use it up). None when the link is
/// no longer live.
pub async fn link_button_page(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
    token: &str,
    texts: [&str; 4],
) -> Result<Option<Response>, AppError> {
    let live = state
        .store
        .peek_email_token(&secrets::digest(token), purpose, state.clock.now())
        .await?;
    let [title, message, action, button] = texts;
    Ok(live.map(|_| {
        anonymous_page(
            state,
            headers,
            StatusCode::OK,
            "confirm.html",
            context! { title, message, action, button, token },
        )
    }))
}

/// The new password of an existing account from a form's `password` and
/// `password_confirm`, checked against the policy with the account's names as context.
pub fn new_password<'p>(state: &AppState, account: &Account, params: &'p Params) -> Result<&'p str, String> {
    let password = params.get("password").unwrap_or_default();
    let email_local = account.email.split('@').next().unwrap_or_default();
    // The service's own name is as guessable as the user's (checklist C2).
    let context = [
        account.given_name.as_str(),
        account.family_name.as_str(),
        account.username.as_str(),
        email_local,
        state.config.product_name.as_str(),
        state.config.issuer.host_str().unwrap_or_default(),
    ];
    crate::password::check_policy(password, state.config.accounts.password_min_length, &context)?;
    if params.get("password_confirm") != Some(password) {
        return Err("The passwords do not match.".into());
    }
    Ok(password)
}

/// A `request_id` that still names a parked authorization request.
pub async fn live_request(state: &AppState, request_id: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(id) = request_id.filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    Ok(state
        .store
        .parked_request(id, state.clock.now())
        .await?
        .map(|_| id.to_string()))
}

/// Where to go after signing in: back to the app's request, a validated `return_to`, or
/// the account page.
pub fn next_after_login(request_id: Option<&str>, return_to: Option<&str>) -> String {
    match (request_id, return_to) {
        (Some(id), _) => format!("/authorize/resume/{id}"),
        (None, Some(target)) => target.to_string(),
        _ => "/account".to_string(),
    }
}

/// A `return_to` we may send the user to: a relative path on Gatehouse, or exactly one of
/// the redirect URIs a known client registered. Anything else is dropped.
pub async fn validated_return_to(state: &AppState, raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(target) = raw.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if safe_return_path(target) {
        return Ok(Some(target.to_string()));
    }
    let registered = state.store.clients().await?.iter().any(|c| c.has_redirect_uri(target));
    Ok(registered.then(|| target.to_string()))
}

/// A relative path on Gatehouse: one leading `/`, not `//` or `/\` (which browsers treat as
/// another host), no scheme, no control characters.
pub fn safe_return_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.contains('\\')
        && path.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_gatehouse() {
        assert!(safe_return_path("/account"));
        assert!(safe_return_path("/account/consents?x=1"));
        for evil in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\tevil",
            "evil",
            "/a\\b",
        ] {
            assert!(!safe_return_path(evil), "{evil}");
        }
    }
}
