//! `/admin/api/v1/users`: create and update (the CLI's rules), search (username, email,
//! name; a cursor), show, end every
//! session, disable and enable, force a password reset, list and revoke grants, list and
//! unlink upstream identities, delete.

use super::auth::Admin;
use super::error::{ApiError, Body, ErrorBody, Query};
use crate::admin::users::{
    self as service, GrantView, IdentityView, NewUser, ResetOutcome, Unlinked, UserChanges, UserPage, UserView,
    DEFAULT_LIMIT,
};
use crate::audit::Action;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: usize,
}

fn no_user(id: &str) -> ApiError {
    ApiError::not_found(format!("no user with id {id:?}"))
}

/// A service answer where `None` means there is no such user, as an API result.
fn found<T>(answer: Result<Option<T>, crate::error::AppError>, id: &str) -> Result<T, ApiError> {
    answer?.ok_or_else(|| no_user(id))
}

#[utoipa::path(get, path = "/admin/api/v1/users", tag = "users",
    params(
        ("q" = Option<String>, Query, description = "Part of a username, email or name (case-insensitive)"),
        ("limit" = Option<i64>, Query, description = "Users per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of users, in id order", body = UserPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
pub async fn search(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=service::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit must be between 1 and 200"));
    }
    let page = service::search(&state, query.q.as_deref(), query.cursor.as_deref(), limit).await?;
    Ok(Json(page))
}

#[utoipa::path(post, path = "/admin/api/v1/users", tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created, its email counted as verified", body = UserView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The username or email is taken", body = ErrorBody),
        (status = 422, description = "A field breaks a rule; `field` names it", body = ErrorBody),
    ))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let id = service::create(&state.store, &state.hasher, new, state.clock.now()).await;
    let target = id.as_ref().ok().cloned();
    let id = admin
        .actor
        .audited(&state, Action::AdminUserCreated, target.as_deref(), id)
        .await?;
    let user = service::show(&state, &id).await?.ok_or_else(|| no_user(&id))?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(patch, path = "/admin/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    request_body = UserChanges,
    responses(
        (status = 200, description = "The account as changed", body = UserView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Body(changes): Body<UserChanges>,
) -> Result<Json<UserView>, ApiError> {
    let updated = service::update(&state.store, &user_id, changes, state.clock.now()).await;
    admin
        .actor
        .audited(&state, Action::AdminUserUpdated, Some(&user_id), updated)
        .await?;
    let user = service::show(&state, &user_id)
        .await?
        .ok_or_else(|| no_user(&user_id))?;
    Ok(Json(user))
}

#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn show(
    _: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = service::show(&state, &user_id)
        .await?
        .ok_or_else(|| no_user(&user_id))?;
    Ok(Json(user))
}

#[utoipa::path(post, path = "/admin/api/v1/users/{user_id}/sessions/end", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 200, description = "Signed out everywhere; their apps get back-channel logout", body = SessionsEnded),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn end_sessions(
    admin: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let ended = found(service::end_sessions(&state, &user_id).await, &user_id);
    let ended = admin
        .actor
        .audited(&state, Action::AdminSessionsEnded, Some(&user_id), ended)
        .await?;
    Ok(Json(SessionsEnded { sessions_ended: ended }))
}

#[utoipa::path(post, path = "/admin/api/v1/users/{user_id}/disable", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 200, description = "Disabled: no sign-in, no refresh; every session and grant ended", body = UserView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn disable(
    admin: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = found(service::set_disabled(&state, &user_id, true).await, &user_id);
    let user = admin
        .actor
        .audited(&state, Action::AdminUserDisabled, Some(&user_id), user)
        .await?;
    Ok(Json(user))
}

#[utoipa::path(post, path = "/admin/api/v1/users/{user_id}/enable", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 200, description = "Enabled: the user may sign in again", body = UserView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn enable(
    admin: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = found(service::set_disabled(&state, &user_id, false).await, &user_id);
    let user = admin
        .actor
        .audited(&state, Action::AdminUserEnabled, Some(&user_id), user)
        .await?;
    Ok(Json(user))
}

#[utoipa::path(post, path = "/admin/api/v1/users/{user_id}/password-reset", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 202, description = "The forgot-password link is on its way to the user's email"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The user's email is not verified", body = ErrorBody),
    ))]
pub async fn password_reset(
    admin: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sent = match service::send_password_reset(&state, &user_id).await {
        Ok(ResetOutcome::Sent) => Ok(StatusCode::ACCEPTED),
        Ok(ResetOutcome::NoSuchUser) => Err(no_user(&user_id)),
        Ok(ResetOutcome::EmailUnverified) => Err(ApiError::conflict(service::UNVERIFIED_EMAIL)),
        Err(e) => Err(e.into()),
    };
    admin
        .actor
        .audited(&state, Action::AdminPasswordResetSent, Some(&user_id), sent)
        .await
}

#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}/grants", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 200, description = "The user's live grants", body = [GrantView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn grants(
    _: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let grants = service::grants(&state, &user_id)
        .await?
        .ok_or_else(|| no_user(&user_id))?;
    Ok(Json(grants))
}

#[utoipa::path(delete, path = "/admin/api/v1/users/{user_id}/grants/{grant_id}", tag = "users",
    params(
        ("user_id" = String, Path, description = "The user's id (their sub)"),
        ("grant_id" = String, Path, description = "The grant's id"),
    ),
    responses(
        (status = 204, description = "Revoked: its access and refresh tokens stop at once"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "The user has no such live grant", body = ErrorBody),
    ))]
pub async fn revoke_grant(
    admin: Admin,
    State(state): State<AppState>,
    Path((user_id, grant_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let revoked = match service::revoke_grant(&state, &user_id, &grant_id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::not_found(format!(
            "user {user_id:?} has no live grant {grant_id:?}"
        ))),
        Err(e) => Err(e.into()),
    };
    let outcome = crate::audit::Outcome::of(&revoked);
    let detail = Some(format!("grant:{grant_id}"));
    admin
        .actor
        .record(&state, Action::AdminGrantRevoked, Some(&user_id), detail, outcome)
        .await;
    revoked
}

#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}/identities", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 200, description = "Upstream identities linked to the account", body = [IdentityView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn identities(
    _: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<Vec<IdentityView>>, ApiError> {
    let found = service::identities(&state, &user_id)
        .await?
        .ok_or_else(|| no_user(&user_id))?;
    Ok(Json(found))
}

#[utoipa::path(delete, path = "/admin/api/v1/users/{user_id}/identities/{identity_id}", tag = "users",
    params(
        ("user_id" = String, Path, description = "The user's id (their sub)"),
        ("identity_id" = String, Path, description = "The linked identity's id"),
    ),
    responses(
        (status = 204, description = "Unlinked; the user is told by mail"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "It is the account's only way to sign in", body = ErrorBody),
    ))]
pub async fn unlink_identity(
    admin: Admin,
    State(state): State<AppState>,
    Path((user_id, identity_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let unlinked = match service::unlink_identity(&state, &user_id, &identity_id).await {
        Ok(Unlinked::Done) => Ok(StatusCode::NO_CONTENT),
        Ok(Unlinked::NoSuchIdentity) => Err(ApiError::not_found(format!(
            "user {user_id:?} has no linked identity {identity_id:?}"
        ))),
        Ok(Unlinked::LastWayIn) => Err(ApiError::conflict(service::LAST_WAY_IN)),
        Err(e) => Err(e.into()),
    };
    let outcome = crate::audit::Outcome::of(&unlinked);
    let detail = Some(format!("identity:{identity_id}"));
    admin
        .actor
        .record(&state, Action::AdminIdentityUnlinked, Some(&user_id), detail, outcome)
        .await;
    unlinked
}

#[utoipa::path(delete, path = "/admin/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "The user's id (their sub)")),
    responses(
        (status = 204, description = "Deleted, after their apps were told"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = match service::delete(&state, &user_id).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(no_user(&user_id)),
        Err(e) => Err(e.into()),
    };
    admin
        .actor
        .audited(&state, Action::AdminUserDeleted, Some(&user_id), deleted)
        .await
}
