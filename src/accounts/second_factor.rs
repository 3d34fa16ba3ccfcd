//! The step between a first factor and a session: `GET`/`POST /login/second-factor`
//! takes an authenticator-app code or a recovery code (a passkey is
//! [`super::passkeys`]). Failures count against the same per-identifier lockout as wrong
//! passwords, so a second factor cannot be guessed faster than a password.

use super::forms::{self, FORM_EXPIRED};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::read_form;
use crate::mfa::{self, Begin, Need};
use crate::sessions::{self, First, Second, SignIn};
use crate::state::AppState;
use crate::store::factors::PendingSignInRow;
use crate::users::identifier_key;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

pub const PATH: &str = crate::mfa::SECOND_FACTOR_PATH;

/// After a first factor: asks for the second when the user has one (and the first is not
/// already two), else starts the session. Marks the parked request as signed in for, and
/// answers with the redirect onwards.
pub async fn after_first_factor(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    identifier: &str,
    first: First<'_>,
    request_id: Option<String>,
    return_to: Option<String>,
) -> Result<Response, AppError> {
    // Every first factor (password, passkey, upstream) comes here: a disabled account
    // stops at it, and only after its first factor held, so nobody learns it is disabled
    // without that.
    if state
        .store
        .account_by_id(user_id)
        .await?
        .is_some_and(|a| a.disabled_at.is_some())
    {
        return Ok(state.pages.error(
            StatusCode::FORBIDDEN,
            "Account disabled",
            "This account is disabled. Ask your administrator to enable it.",
        ));
    }
    state.metrics.sign_in(first_label(first), "success");
    let sign_in = SignIn::one(first);
    let already_two = sign_in.amr().split(' ').any(|a| a == sessions::AMR_MFA);
    if !already_two && mfa::factors(state, user_id).await?.any() {
        let cookie = mfa::begin(
            state,
            Begin {
                user_id,
                identifier,
                first,
                session_id: None,
                request_id: request_id.as_deref(),
                return_to: return_to.as_deref(),
                need: Need::Any,
            },
        )
        .await?;
        return Ok(see_other(PATH, vec![cookie]));
    }
    let (session, cookie) = sessions::start(state, headers, user_id, &sign_in).await?;
    onwards(
        state,
        &session.id,
        request_id.as_deref(),
        return_to.as_deref(),
        vec![cookie],
    )
    .await
}

/// Finishes a pending sign-in with its second factor and goes on.
pub async fn finish(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    pending: &PendingSignInRow,
    second: Second,
) -> Result<Response, AppError> {
    let Some(finished) = mfa::complete(state, headers, pending, second).await? else {
        return Ok(expired(state));
    };
    state
        .store
        .clear_login_failures(&identifier_key(&pending.identifier))
        .await?;
    tracing::info!(user_id = %pending.user_id, factor = ?second, "second factor");
    state.metrics.sign_in(second_label(second), "success");
    let event = Event::new(Action::SignIn)
        .actor(&pending.user_id)
        .detail(second_factor_detail(second));
    audit::record(state, ip.0, headers, event).await;
    onwards(
        state,
        &finished.session_id,
        pending.request_id.as_deref(),
        pending.return_to.as_deref(),
        finished.cookies,
    )
    .await
}

/// The lockout on the pending sign-in's identifier: minutes to wait, if locked.
pub async fn locked(state: &AppState, pending: &PendingSignInRow) -> Result<Option<i64>, AppError> {
    let now = state.clock.now();
    let until = state
        .store
        .login_locked_until(&identifier_key(&pending.identifier))
        .await?;
    Ok((until > now && until - now <= super::lockout::MAX_LOCK_SECS).then(|| (until - now + 59) / 60))
}

/// Counts a wrong second factor against the identifier's lockout, as a wrong password.
pub async fn failed(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    pending: &PendingSignInRow,
    second: Second,
) -> Result<(), AppError> {
    tracing::info!(user_id = %pending.user_id, "failed second factor");
    state.metrics.sign_in(second_label(second), "failure");
    let event = Event::new(Action::SecondFactorFailed).actor(&pending.user_id);
    audit::record(state, ip.0, headers, event).await;
    state
        .store
        .record_login_failure(
            &identifier_key(&pending.identifier),
            state.clock.now(),
            super::lockout::lock_for,
        )
        .await?;
    Ok(())
}

/// The `method` label of sign-in metrics.
fn first_label(first: First<'_>) -> &'static str {
    match first {
        First::Password => "password",
        First::Upstream { .. } => "upstream",
        First::Passkey => "passkey",
    }
}

fn second_label(second: Second) -> &'static str {
    match second {
        Second::Totp => "totp",
        Second::RecoveryCode => "recovery_code",
        Second::Passkey => "passkey",
    }
}

/// The audit detail of a second factor: `mfa:` and its RFC 8176 method.
fn second_factor_detail(second: Second) -> &'static str {
    match second {
        Second::Totp => "mfa:otp",
        Second::RecoveryCode => "mfa:recovery_code",
        Second::Passkey => "mfa:hwk",
    }
}

async fn onwards(
    state: &AppState,
    session_id: &str,
    request_id: Option<&str>,
    return_to: Option<&str>,
    cookies: Vec<HeaderValue>,
) -> Result<Response, AppError> {
    let request_id = forms::live_request(state, request_id).await?;
    if let Some(id) = &request_id {
        state.store.mark_request_signed_in(id, session_id).await?;
    }
    let next = forms::next_after_login(request_id.as_deref(), return_to);
    Ok(see_other(&next, cookies))
}

fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_string())]).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn expired(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "The sign-in took too long or was already completed. Go back and sign in again.",
    )
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(pending) = mfa::pending(&state, &headers).await? else {
        return Ok(expired(&state));
    };
    render(&state, &headers, &pending, StatusCode::OK, None).await
}

/// The second-factor page, with an error when a factor was refused.
pub async fn render(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingSignInRow,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let factors = mfa::factors(state, &pending.user_id).await?;
    let passkey_only = Need::parse(&pending.need) == Need::Passkey;
    Ok(forms::anonymous_page(
        state,
        headers,
        status,
        "second_factor.html",
        context! {
            error,
            totp => factors.totp && !passkey_only,
            recovery => factors.recovery_codes > 0 && !passkey_only,
            has_passkeys => factors.passkeys > 0,
            passkeys_enabled => state.webauthn.is_some(),
            step_up => pending.session_id.is_some(),
        },
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(limited) = forms::limit(&state, ip, "login") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(pending) = mfa::pending(&state, &headers).await? else {
        return Ok(expired(&state));
    };
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return render(&state, &headers, &pending, StatusCode::FORBIDDEN, Some(FORM_EXPIRED)).await;
    }
    if Need::parse(&pending.need) == Need::Passkey {
        return render(
            &state,
            &headers,
            &pending,
            StatusCode::BAD_REQUEST,
            Some("This app asks for a passkey."),
        )
        .await;
    }
    if let Some(minutes) = locked(&state, &pending).await? {
        state.metrics.sign_in("second_factor", "locked");
        let message = format!("Too many failed attempts. Try again in {minutes} minute(s).");
        return render(
            &state,
            &headers,
            &pending,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&message),
        )
        .await;
    }
    let now = state.clock.now();
    let accepted = if let Some(code) = params.get("code").filter(|c| !c.trim().is_empty()) {
        mfa::totp_accepted(&state, &pending.user_id, code, now, true)
            .await?
            .then_some(Second::Totp)
    } else if let Some(code) = params.get("recovery_code").filter(|c| !c.trim().is_empty()) {
        state
            .store
            .use_recovery_code(&pending.user_id, &mfa::recovery_digest(code), now)
            .await?
            .then_some(Second::RecoveryCode)
    } else {
        return render(
            &state,
            &headers,
            &pending,
            StatusCode::BAD_REQUEST,
            Some("Enter the code."),
        )
        .await;
    };
    match accepted {
        Some(second) => {
            if second == Second::RecoveryCode {
                if let Some(account) = state.store.account_by_id(&pending.user_id).await? {
                    let left = state.store.unused_recovery_codes(&account.id).await?;
                    super::mail::notice(
                        &state,
                        &account.email,
                        "recovery_code_used",
                        context! { name => account.given_name, left },
                    )
                    .await?;
                }
            }
            finish(&state, ip, &headers, &pending, second).await
        }
        None => {
            let tried = if params.get("code").is_some_and(|c| !c.trim().is_empty()) {
                Second::Totp
            } else {
                Second::RecoveryCode
            };
            failed(&state, ip, &headers, &pending, tried).await?;
            render(
                &state,
                &headers,
                &pending,
                StatusCode::UNAUTHORIZED,
                Some("That code is not right, or was already used."),
            )
            .await
        }
    }
}
