//! The account's second factors: `/account/two-factor` lists them, enrols an
//! authenticator app (QR code and secret, confirmed by one code), removes it, and makes new
//! recovery codes. It is also where a sign-in that must have a second factor sends a user
//! who has none (`?request_id=`), to set one up and go on. Passkeys are registered from
//! the same page ([`super::passkeys`]).
//!
//! Changing factors needs a recent sign-in, and, once a user has a factor, a sign-in that
//! used one: a stolen password (or a session left open) cannot remove the second factor.

use super::forms;
use super::profile::FRESH_SIGN_IN_SECS;
use crate::accounts::mail::notice;
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::{found, read_form, Params};
use crate::mfa::{self, Factors};
use crate::sessions::{self, Second};
use crate::state::AppState;
use crate::store::sessions::SessionRow;
use crate::users::Account;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use serde::Deserialize;

pub const PATH: &str = crate::mfa::SETUP_PATH;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(show))
        .route("/account/two-factor/totp", post(start_totp))
        .route("/account/two-factor/totp/confirm", post(confirm_totp))
        .route("/account/two-factor/totp/remove", post(remove_totp))
        .route("/account/two-factor/recovery-codes", post(new_recovery_codes))
}

/// Whether this session may change the account's second factors (see the module doc).
pub async fn may_change(state: &AppState, session: &SessionRow, factors: &Factors) -> Result<(), String> {
    let fresh = state.clock.now() - session.auth_time <= FRESH_SIGN_IN_SECS;
    let strong = !factors.any() || sessions::has_amr(session, sessions::AMR_MFA);
    match fresh && strong {
        true => Ok(()),
        false if factors.any() => Err(
            "For your security, sign out and sign in again with your second factor, then change it within 15 minutes."
                .into(),
        ),
        false => Err("For your security, sign out and sign in again, then set this up within 15 minutes.".into()),
    }
}

#[derive(Deserialize)]
pub struct TwoFactorQuery {
    request_id: Option<String>,
    /// `passkey` when the app asked for a phishing-resistant sign-in (`acr_values=phr`).
    need: Option<String>,
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<(SessionRow, Account)>, AppError> {
    let Some(session) = sessions::current(state, headers).await? else {
        return Ok(None);
    };
    Ok(state
        .store
        .account_by_id(&session.user_id)
        .await?
        .map(|account| (session, account)))
}

fn login_first(request_id: Option<&str>) -> Response {
    match request_id {
        Some(id) => found(&format!("/login?request_id={id}")),
        None => found(&format!("/login?return_to={PATH}")),
    }
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TwoFactorQuery>,
) -> Result<Response, AppError> {
    let request_id = forms::live_request(&state, query.request_id.as_deref()).await?;
    let Some((session, account)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(request_id.as_deref()));
    };
    let notice = match (&request_id, query.need.as_deref()) {
        (Some(_), Some("passkey")) => Some("The app you are signing in to needs a passkey. Add one to continue."),
        _ => None,
    };
    page(
        &state,
        &session,
        &account,
        request_id.as_deref(),
        StatusCode::OK,
        notice,
        None,
    )
    .await
}

/// The two-factor page, with a notice or an error.
pub async fn page(
    state: &AppState,
    session: &SessionRow,
    account: &Account,
    request_id: Option<&str>,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let factors = mfa::factors(state, &account.id).await?;
    let passkeys = super::passkeys::account_context(state, account).await?;
    Ok(state.pages.render(
        status,
        "two_factor.html",
        context! {
            totp => factors.totp,
            recovery_codes => factors.recovery_codes,
            has_factor => factors.any(),
            may_change => may_change(state, session, &factors).await.is_ok(),
            passkeys_enabled => state.webauthn.is_some(),
            request_id, notice, error, passkeys,
            csrf_token => session.csrf_token,
        },
    ))
}

/// Runs a two-factor form: session, CSRF, the freshness rule, then `action`.
async fn with_form<F, Fut>(state: AppState, headers: HeaderMap, body: Body, action: F) -> Result<Response, AppError>
where
    F: FnOnce(AppState, SessionRow, Account, Params, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Result<Response, String>, AppError>>,
{
    let params = read_form(&headers, body).await.unwrap_or_default();
    let request_id = forms::live_request(&state, params.get("request_id")).await?;
    let Some((session, account)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(request_id.as_deref()));
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    let factors = mfa::factors(&state, &account.id).await?;
    if let Err(e) = may_change(&state, &session, &factors).await {
        return page(
            &state,
            &session,
            &account,
            request_id.as_deref(),
            StatusCode::FORBIDDEN,
            None,
            Some(&e),
        )
        .await;
    }
    match action(
        state.clone(),
        session.clone(),
        account.clone(),
        params,
        request_id.clone(),
    )
    .await?
    {
        Ok(response) => Ok(response),
        Err(e) => {
            page(
                &state,
                &session,
                &account,
                request_id.as_deref(),
                StatusCode::BAD_REQUEST,
                None,
                Some(&e),
            )
            .await
        }
    }
}

async fn start_totp(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    with_form(
        state,
        headers,
        body,
        |state, session, account, _, request_id| async move {
            let secret = crate::totp::new_secret();
            let sealed = state.keys.kek().seal(&mfa::seal_label(&account.id), &secret)?;
            if !state.store.start_totp(&account.id, &sealed, state.clock.now()).await? {
                return Ok(Err(
                    "An authenticator app is already set up. Remove it first to use another.".into(),
                ));
            }
            Ok(Ok(setup_page(
                &state,
                &session,
                &account,
                &secret,
                request_id.as_deref(),
                StatusCode::OK,
                None,
            )?))
        },
    )
    .await
}

fn setup_page(
    state: &AppState,
    session: &SessionRow,
    account: &Account,
    secret: &[u8],
    request_id: Option<&str>,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let enrolment = crate::totp::enrolment(secret, &state.config.product_name, &account.username)?;
    Ok(state.pages.render(
        status,
        "totp_setup.html",
        context! {
            qr_svg => Value::from_safe_string(enrolment.qr_svg),
            secret => enrolment.secret_base32,
            uri => enrolment.uri,
            request_id, error,
            csrf_token => session.csrf_token,
        },
    ))
}

async fn confirm_totp(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let seen = headers.clone();
    with_form(
        state,
        headers,
        body,
        |state, session, account, params, request_id| async move {
            let Some(row) = state.store.totp(&account.id).await? else {
                return Ok(Err("Start again: choose Set up an authenticator app.".into()));
            };
            if row.confirmed_at.is_some() {
                return Ok(Err("Your authenticator app is already set up.".into()));
            }
            let now = state.clock.now();
            let code = params.get("code").unwrap_or_default();
            if !mfa::totp_accepted(&state, &account.id, code, now, false).await? {
                let secret = state.keys.kek().open(&mfa::seal_label(&account.id), &row.secret)?;
                let error = "That code is not right. Check the time on your phone, and enter the newest code.";
                return Ok(Ok(setup_page(
                    &state,
                    &session,
                    &account,
                    &secret,
                    request_id.as_deref(),
                    StatusCode::BAD_REQUEST,
                    Some(error),
                )?));
            }
            Ok(Ok(enrolled(
                &state,
                (ip, &seen),
                &session,
                &account,
                Second::Totp,
                request_id.as_deref(),
            )
            .await?))
        },
    )
    .await
}

/// After a factor was added: the session counts it (it was just used), the owner is
/// told by email, and the first factor comes with recovery codes, shown once.
pub async fn enrolled(
    state: &AppState,
    (ip, headers): (ClientIp, &HeaderMap),
    session: &SessionRow,
    account: &Account,
    second: Second,
    request_id: Option<&str>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    state
        .store
        .raise_session(&session.id, &sessions::raised_amr(&session.amr, second), now)
        .await?;
    let factor = factor_name(second);
    notice(
        state,
        &account.email,
        "factor_added",
        context! { name => account.given_name, factor },
    )
    .await?;
    tracing::info!(user_id = %account.id, ?second, "second factor added");
    let event = Event::new(Action::FactorAdded).actor(&account.id);
    audit::record(state, ip.0, headers, event.detail(factor_detail(second))).await;
    let next = match request_id {
        Some(id) => format!("/authorize/resume/{id}"),
        None => PATH.to_string(),
    };
    if state.store.unused_recovery_codes(&account.id).await? == 0 {
        return recovery_codes_page(state, &account.id, &next).await;
    }
    match request_id {
        Some(_) => Ok(found(&next)),
        None => {
            let message = format!("{} added.", capitalised(factor));
            let session = state
                .store
                .session_by_id(&session.id)
                .await?
                .unwrap_or_else(|| session.clone());
            page(state, &session, account, None, StatusCode::OK, Some(&message), None).await
        }
    }
}

/// After a factor was removed: the owner is told, and without any factor left the
/// recovery codes go too (they recover a second factor, not a password).
pub async fn removed(
    state: &AppState,
    (ip, headers): (ClientIp, &HeaderMap),
    account: &Account,
    second: Second,
) -> Result<(), AppError> {
    if !mfa::factors(state, &account.id).await?.any() {
        state.store.replace_recovery_codes(&account.id, &[]).await?;
    }
    let factor = factor_name(second);
    notice(
        state,
        &account.email,
        "factor_removed",
        context! { name => account.given_name, factor },
    )
    .await?;
    tracing::info!(user_id = %account.id, ?second, "second factor removed");
    let event = Event::new(Action::FactorRemoved).actor(&account.id);
    audit::record(state, ip.0, headers, event.detail(factor_detail(second))).await;
    Ok(())
}

fn factor_name(second: Second) -> &'static str {
    match second {
        Second::Totp => "an authenticator app",
        Second::Passkey => "a passkey",
        Second::RecoveryCode => "recovery codes",
    }
}

/// The audit detail of a factor: its RFC 8176 method.
fn factor_detail(second: Second) -> &'static str {
    match second {
        Second::Totp => "otp",
        Second::Passkey => "hwk",
        Second::RecoveryCode => "recovery_code",
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

async fn recovery_codes_page(state: &AppState, user_id: &str, next: &str) -> Result<Response, AppError> {
    let (codes, digests) = mfa::new_recovery_codes();
    state.store.replace_recovery_codes(user_id, &digests).await?;
    Ok(state
        .pages
        .render(StatusCode::OK, "recovery_codes.html", context! { codes, next }))
}

async fn remove_totp(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let seen = headers.clone();
    with_form(state, headers, body, |state, session, account, _, _| async move {
        if !state.store.delete_totp(&account.id).await? {
            return Ok(Err("No authenticator app is set up.".into()));
        }
        removed(&state, (ip, &seen), &account, Second::Totp).await?;
        Ok(Ok(page(
            &state,
            &session,
            &account,
            None,
            StatusCode::OK,
            Some("Authenticator app removed."),
            None,
        )
        .await?))
    })
    .await
}

async fn new_recovery_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, _, account, _, _| async move {
        if !mfa::factors(&state, &account.id).await?.any() {
            return Ok(Err("Recovery codes come with a second factor. Set one up first.".into()));
        }
        notice(
            &state,
            &account.email,
            "factor_added",
            context! { name => account.given_name, factor => "new recovery codes" },
        )
        .await?;
        Ok(Ok(recovery_codes_page(&state, &account.id, PATH).await?))
    })
    .await
}
