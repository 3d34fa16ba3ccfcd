//! `/admin/api/v1/clients`: list, show, create (the secret shown once), update, rotate the
//! secret, delete. Each calls the service the CLI calls (`admin::clients`), then makes this
//! instance forget its cached clients at once (others follow within a second).

use super::auth::Admin;
use super::error::{ApiError, Body, ErrorBody};
use crate::admin::clients::{self as service, ClientSettings, ClientView};
use crate::audit::Action;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// A client just created, with its secret: shown this once, never again.
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: ClientView,
    /// `null` for a public client.
    pub client_secret: Option<String>,
}

/// A confidential client's new secret; the old one no longer works.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    pub client_secret: String,
}

async fn forget_cached(state: &AppState) -> Result<(), ApiError> {
    state.clients.refresh(&state.store).await?;
    Ok(())
}

#[utoipa::path(get, path = "/admin/api/v1/clients", tag = "clients",
    responses(
        (status = 200, description = "Every registered client", body = [ClientView]),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin", body = ErrorBody),
    ))]
pub async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Vec<ClientView>>, ApiError> {
    let all = state.store.clients().await?;
    Ok(Json(all.iter().map(ClientView::from).collect()))
}

#[utoipa::path(get, path = "/admin/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client (never its secret)", body = ClientView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
    ))]
pub async fn show(
    _: Admin,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<ClientView>, ApiError> {
    let client = service::show(&state.store, &client_id).await?;
    Ok(Json(ClientView::from(&client)))
}

#[utoipa::path(post, path = "/admin/api/v1/clients", tag = "clients",
    request_body = ClientSettings,
    responses(
        (status = 201, description = "Created; the secret is in this answer only", body = CreatedClient),
        (status = 400, description = "Malformed JSON or an unknown field", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The client_id is taken", body = ErrorBody),
        (status = 422, description = "A setting breaks a rule; `field` names it", body = ErrorBody),
    ))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(settings): Body<ClientSettings>,
) -> Result<(StatusCode, Json<CreatedClient>), ApiError> {
    let asked = settings.client_id.clone();
    let issued = service::create(&state.store, &state.outbound, settings, state.clock.now()).await;
    let target = issued.as_ref().map_or(asked, |i| Some(i.client.id.clone()));
    let issued = admin
        .actor
        .audited(&state, Action::AdminClientCreated, target.as_deref(), issued)
        .await?;
    forget_cached(&state).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client: ClientView::from(&issued.client),
            client_secret: issued.secret,
        }),
    ))
}

#[utoipa::path(patch, path = "/admin/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    request_body = ClientSettings,
    responses(
        (status = 200, description = "The client as changed", body = ClientView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    Body(settings): Body<ClientSettings>,
) -> Result<Json<ClientView>, ApiError> {
    let issued = service::update(&state.store, &state.outbound, &client_id, settings, false).await;
    let issued = admin
        .actor
        .audited(&state, Action::AdminClientUpdated, Some(&client_id), issued)
        .await?;
    forget_cached(&state).await?;
    Ok(Json(ClientView::from(&issued.client)))
}

#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/secret", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = RotatedSecret),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "A public client has no secret", body = ErrorBody),
    ))]
pub async fn rotate_secret(
    admin: Admin,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let issued = service::rotate_secret(&state.store, &client_id).await;
    let issued = admin
        .actor
        .audited(&state, Action::AdminClientSecretRotated, Some(&client_id), issued)
        .await?;
    forget_cached(&state).await?;
    let secret = issued.secret.unwrap_or_default();
    Ok(Json(RotatedSecret {
        client_id: issued.client.id,
        client_secret: secret,
    }))
}

#[utoipa::path(delete, path = "/admin/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Deleted, with its codes, grants and tokens"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = service::delete(&state.store, &client_id).await;
    admin
        .actor
        .audited(&state, Action::AdminClientDeleted, Some(&client_id), deleted)
        .await?;
    forget_cached(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}
