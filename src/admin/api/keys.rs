//! `/admin/api/v1/keys`: list the signing keys, rotate (add one), retire one. The same
//! service functions as `gatehouse keys …`; this instance reloads its set at once.

use super::auth::Admin;
use super::error::{ApiError, ErrorBody, Query};
use crate::admin::keys::{self as service, KeyView};
use crate::audit::Action;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize)]
pub struct RetireQuery {
    #[serde(default)]
    force: bool,
}

/// A retired key, and why retiring it was risky when `force` overrode the check.
#[derive(Serialize, ToSchema)]
pub struct Retired {
    pub kid: String,
    pub warning: Option<String>,
}

async fn reload(state: &AppState) -> Result<(), ApiError> {
    state
        .keys
        .reload_if_changed(state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    Ok(())
}

#[utoipa::path(get, path = "/admin/api/v1/keys", tag = "keys",
    responses(
        (status = 200, description = "Every stored key with its state", body = [KeyView]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
pub async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Vec<KeyView>>, ApiError> {
    Ok(Json(service::list(&state.keys, state.clock.now()).await?))
}

#[utoipa::path(post, path = "/admin/api/v1/keys", tag = "keys",
    responses(
        (status = 201, description = "Added: published now, signing after keys.rotation_delay_secs", body = KeyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
pub async fn rotate(admin: Admin, State(state): State<AppState>) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let key = service::rotate(&state.keys, &state.config, state.clock.now()).await;
    let kid = key.as_ref().ok().map(|k| k.kid.clone());
    let key = admin
        .actor
        .audited(&state, Action::AdminKeyRotated, kid.as_deref(), key)
        .await?;
    reload(&state).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

#[utoipa::path(post, path = "/admin/api/v1/keys/{kid}/retire", tag = "keys",
    params(
        ("kid" = String, Path, description = "The key id"),
        ("force" = Option<bool>, Query, description = "Retire even though tokens it signed may still be valid"),
    ),
    responses(
        (status = 200, description = "Retired: it stops signing and leaves the JWKS", body = Retired),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Tokens it signed may still be valid (use force)", body = ErrorBody),
    ))]
pub async fn retire(
    admin: Admin,
    State(state): State<AppState>,
    Path(kid): Path<String>,
    Query(query): Query<RetireQuery>,
) -> Result<Json<Retired>, ApiError> {
    let warning = service::retire(&state.keys, &state.config, &kid, query.force, state.clock.now()).await;
    let warning = admin
        .actor
        .audited(&state, Action::AdminKeyRetired, Some(&kid), warning)
        .await?;
    reload(&state).await?;
    Ok(Json(Retired { kid, warning }))
}
