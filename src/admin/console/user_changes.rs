//! The changes on a user's console page, as the admin API offers them: disable and
//! enable, end every session, send a password reset, revoke a grant, unlink an identity,
//! delete. Each answers with the user's page saying what happened, and is audited.

use super::guard::Console;
use super::users::{not_found, show_page};
use crate::admin::users::{self as service, ResetOutcome, Unlinked};
use crate::audit::{Action, Outcome};
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// What one change did: a notice for the user's page, a refusal shown there as an error,
/// or no such user.
enum Done {
    Notice(String),
    Refused(StatusCode, String),
    Missing,
}

/// Runs a change on the user's page: the form's CSRF token, a fresh sign-in when
/// `destructive`, then `change`, whose answer the user's page shows.
async fn change<F, Fut>(
    console: Console,
    state: AppState,
    id: String,
    headers: HeaderMap,
    body: Body,
    destructive: bool,
    change: F,
) -> Result<Response, AppError>
where
    F: FnOnce(AppState, Console) -> Fut,
    Fut: std::future::Future<Output = Result<(Console, Done), AppError>>,
{
    if let Err(refused) = console.form(&state, &headers, body).await {
        return Ok(refused);
    }
    if destructive {
        if let Some(reauth) = console.stale(&state, &format!("/admin/users/{id}")) {
            return Ok(reauth);
        }
    }
    let (console, done) = change(state.clone(), console).await?;
    match done {
        Done::Notice(notice) => show_page(&state, &console, &id, StatusCode::OK, Some(&notice), None).await,
        Done::Refused(status, error) => show_page(&state, &console, &id, status, None, Some(&error)).await,
        Done::Missing => Ok(not_found(&state, &console, &id)),
    }
}

/// Records `action` on `id`, successful unless the change was refused or found no user.
async fn audit(state: &AppState, console: &Console, action: Action, id: &str, detail: Option<String>, done: &Done) {
    let outcome = match done {
        Done::Notice(_) => Outcome::Success,
        _ => Outcome::Failure,
    };
    console.actor.record(state, action, Some(id), detail, outcome).await;
}

pub async fn disable(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    set_disabled(console, state, id, headers, body, true).await
}

pub async fn enable(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    set_disabled(console, state, id, headers, body, false).await
}

async fn set_disabled(
    console: Console,
    state: AppState,
    id: String,
    headers: HeaderMap,
    body: Body,
    disabled: bool,
) -> Result<Response, AppError> {
    let target = id.clone();
    change(
        console,
        state,
        id,
        headers,
        body,
        disabled,
        |state, console| async move {
            let done = if disabled && target == console.account.id {
                // Locking oneself out is never what was meant; another admin can do it.
                Done::Refused(StatusCode::CONFLICT, "You cannot disable your own account.".into())
            } else {
                match service::set_disabled(&state, &target, disabled).await? {
                    Some(_) if disabled => {
                        Done::Notice("Account disabled: every session and grant of theirs ended.".into())
                    }
                    Some(_) => Done::Notice("Account enabled: they may sign in again.".into()),
                    None => Done::Missing,
                }
            };
            let action = match disabled {
                true => Action::AdminUserDisabled,
                false => Action::AdminUserEnabled,
            };
            audit(&state, &console, action, &target, None, &done).await;
            Ok((console, done))
        },
    )
    .await
}

pub async fn end_sessions(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let target = id.clone();
    change(console, state, id, headers, body, false, |state, console| async move {
        let done = match service::end_sessions(&state, &target).await? {
            Some(n) => Done::Notice(format!(
                "Signed out of {n} session(s), and of apps with offline access."
            )),
            None => Done::Missing,
        };
        audit(&state, &console, Action::AdminSessionsEnded, &target, None, &done).await;
        Ok((console, done))
    })
    .await
}

pub async fn password_reset(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let target = id.clone();
    change(console, state, id, headers, body, false, |state, console| async move {
        let done = match service::send_password_reset(&state, &target).await? {
            ResetOutcome::Sent => Done::Notice("A password-reset link is on its way to their email.".into()),
            ResetOutcome::EmailUnverified => {
                Done::Refused(StatusCode::CONFLICT, capitalised(service::UNVERIFIED_EMAIL))
            }
            ResetOutcome::NoSuchUser => Done::Missing,
        };
        audit(&state, &console, Action::AdminPasswordResetSent, &target, None, &done).await;
        Ok((console, done))
    })
    .await
}

pub async fn revoke_grant(
    console: Console,
    State(state): State<AppState>,
    Path((id, grant_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let target = id.clone();
    change(console, state, id, headers, body, false, |state, console| async move {
        let done = match service::revoke_grant(&state, &target, &grant_id).await? {
            true => Done::Notice("Grant revoked: its access and refresh tokens stopped working.".into()),
            false => Done::Refused(StatusCode::NOT_FOUND, "That grant has already ended.".into()),
        };
        let detail = Some(format!("grant:{grant_id}"));
        audit(&state, &console, Action::AdminGrantRevoked, &target, detail, &done).await;
        Ok((console, done))
    })
    .await
}

pub async fn unlink_identity(
    console: Console,
    State(state): State<AppState>,
    Path((id, identity_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let target = id.clone();
    change(console, state, id, headers, body, false, |state, console| async move {
        let done = match service::unlink_identity(&state, &target, &identity_id).await? {
            Unlinked::Done => Done::Notice("Identity unlinked; the user was told by email.".into()),
            Unlinked::NoSuchIdentity => {
                Done::Refused(StatusCode::NOT_FOUND, "That identity is no longer linked.".into())
            }
            Unlinked::LastWayIn => Done::Refused(StatusCode::CONFLICT, capitalised(service::LAST_WAY_IN)),
        };
        let detail = Some(format!("identity:{identity_id}"));
        audit(&state, &console, Action::AdminIdentityUnlinked, &target, detail, &done).await;
        Ok((console, done))
    })
    .await
}

pub async fn delete(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(refused) = console.form(&state, &headers, body).await {
        return Ok(refused);
    }
    if let Some(reauth) = console.stale(&state, &format!("/admin/users/{id}")) {
        return Ok(reauth);
    }
    if id == console.account.id {
        let error = "You cannot delete your own account here; use your account page.";
        return show_page(&state, &console, &id, StatusCode::CONFLICT, None, Some(error)).await;
    }
    let deleted = service::delete(&state, &id).await?;
    let outcome = match deleted {
        true => Outcome::Success,
        false => Outcome::Failure,
    };
    console
        .actor
        .record(&state, Action::AdminUserDeleted, Some(&id), None, outcome)
        .await;
    if !deleted {
        return Ok(not_found(&state, &console, &id));
    }
    Ok(console.message(
        &state,
        StatusCode::OK,
        "User deleted",
        "The account is gone, and every app they were signed in to was told.",
        "/admin/users",
    ))
}

/// The service's messages are sentences without their first capital.
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
