//! `/admin/api/v1/audit`: the audit trail, newest first, filtered by actor, action and
//! outcome, a page at a time (`before` is the previous page's `next_cursor`).

use super::auth::Admin;
use super::error::{ApiError, ErrorBody, Query};
use crate::admin::audit::{self as service, AuditPage, AuditQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ListQuery {
    user_id: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/admin/api/v1/audit", tag = "audit",
    params(
        ("user_id" = Option<String>, Query, description = "Only events this user performed (actor_user_id)"),
        ("action" = Option<String>, Query, description = "Only this action, e.g. sign_in_failed or admin.user_disabled"),
        ("outcome" = Option<String>, Query, description = "success or failure"),
        ("before" = Option<i64>, Query, description = "The next_cursor of the previous page: events older than it"),
        ("limit" = Option<i64>, Query, description = "Events per page, 1 to 200 (default 50)"),
    ),
    responses(
        (status = 200, description = "A page of events, newest first", body = AuditPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "A filter is not one of the allowed values; `field` names it", body = ErrorBody),
    ))]
pub async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let query = AuditQuery {
        user_id: query.user_id,
        action: query.action,
        outcome: query.outcome,
        before: query.before,
        limit: query.limit,
    };
    match service::list(&state, &query).await? {
        Ok(page) => Ok(Json(page)),
        Err(bad) => Err(ApiError::invalid(bad.field, bad.message)),
    }
}
