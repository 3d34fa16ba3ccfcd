//! `/admin/clients`: list, show and edit, create (the secret shown once), rotate the
//! secret and delete, each through the same service functions as the admin API.

use super::client_form;
use super::guard::Console;
use crate::admin::clients::{self as service, ClientError, ClientView, Issued};
use crate::audit::Action;
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

/// What a refused change shows, and with which status; an internal failure stays one.
fn refusal(e: ClientError) -> Result<(StatusCode, String), AppError> {
    let status = match &e {
        ClientError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ClientError::NotFound(_) => StatusCode::NOT_FOUND,
        ClientError::Conflict(_) => StatusCode::CONFLICT,
        ClientError::Internal(_) => return Err(AppError::from(anyhow::anyhow!("{e}"))),
    };
    Ok((status, e.to_string()))
}

/// This instance forgets its cached clients at once, as after an admin API change.
async fn forget_cached(state: &AppState) -> Result<(), AppError> {
    state.clients.refresh(&state.store).await?;
    Ok(())
}

async fn list_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    notice: Option<&str>,
) -> Result<Response, AppError> {
    let clients: Vec<ClientView> = state.store.clients().await?.iter().map(ClientView::from).collect();
    let clients = minijinja::Value::from_serialize(&clients);
    Ok(console.render(
        state,
        status,
        "admin/clients.html",
        context! { section => "clients", clients, notice },
    ))
}

pub async fn list(console: Console, State(state): State<AppState>) -> Result<Response, AppError> {
    list_page(&state, &console, StatusCode::OK, None).await
}

pub async fn new(console: Console, State(state): State<AppState>) -> Response {
    console.render(
        &state,
        StatusCode::OK,
        "admin/client_new.html",
        context! { section => "clients", c => client_form::defaults() },
    )
}

pub async fn create(
    console: Console,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = match console.form(&state, &headers, body).await {
        Ok(params) => params,
        Err(refused) => return Ok(refused),
    };
    let again = |status: StatusCode, error: String| {
        console.render(
            &state,
            status,
            "admin/client_new.html",
            context! { section => "clients", c => client_form::values_typed(&params), error },
        )
    };
    let settings = match client_form::settings(&params, true) {
        Ok(settings) => settings,
        Err(error) => return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, error)),
    };
    let asked = settings.client_id.clone();
    let issued = service::create(&state.store, &state.outbound, settings, state.clock.now()).await;
    let target = issued.as_ref().map_or(asked, |i| Some(i.client.id.clone()));
    let issued = console
        .actor
        .audited(&state, Action::AdminClientCreated, target.as_deref(), issued)
        .await;
    match issued {
        Ok(issued) => {
            forget_cached(&state).await?;
            Ok(secret_page(&state, &console, &issued, "Client created"))
        }
        Err(e) => {
            let (status, error) = refusal(e)?;
            Ok(again(status, error))
        }
    }
}

/// The one page that shows a secret: right after it was made.
fn secret_page(state: &AppState, console: &Console, issued: &Issued, title: &str) -> Response {
    console.render(
        state,
        StatusCode::OK,
        "admin/client_secret.html",
        context! {
            section => "clients", title,
            client_id => issued.client.id, name => issued.client.name, secret => issued.secret,
        },
    )
}

async fn show_page(
    state: &AppState,
    console: &Console,
    id: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<(&str, minijinja::Value)>,
) -> Result<Response, AppError> {
    let client = match service::show(&state.store, id).await {
        Ok(client) => ClientView::from(&client),
        Err(ClientError::NotFound(_)) => return Ok(not_found(state, console, id)),
        Err(e) => return Err(AppError::from(anyhow::anyhow!("{e}"))),
    };
    let (error, c) = match error {
        Some((message, typed)) => (Some(message), typed),
        None => (None, client_form::values_of(&client)),
    };
    let client = minijinja::Value::from_serialize(&client);
    Ok(console.render(
        state,
        status,
        "admin/client.html",
        context! { section => "clients", client, c, notice, error },
    ))
}

fn not_found(state: &AppState, console: &Console, id: &str) -> Response {
    console.message(
        state,
        StatusCode::NOT_FOUND,
        "No such client",
        &format!("There is no client with id {id:?}. It may have been deleted."),
        "/admin/clients",
    )
}

pub async fn show(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    show_page(&state, &console, &id, StatusCode::OK, None, None).await
}

pub async fn update(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = match console.form(&state, &headers, body).await {
        Ok(params) => params,
        Err(refused) => return Ok(refused),
    };
    let typed = client_form::values_typed(&params);
    let settings = match client_form::settings(&params, false) {
        Ok(settings) => settings,
        Err(error) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show_page(&state, &console, &id, status, None, Some((&error, typed))).await;
        }
    };
    let updated = service::update(&state.store, &state.outbound, &id, settings, false).await;
    let updated = console
        .actor
        .audited(&state, Action::AdminClientUpdated, Some(&id), updated)
        .await;
    match updated {
        Ok(_) => {
            forget_cached(&state).await?;
            show_page(&state, &console, &id, StatusCode::OK, Some("Client saved."), None).await
        }
        Err(e) => {
            let (status, error) = refusal(e)?;
            show_page(&state, &console, &id, status, None, Some((&error, typed))).await
        }
    }
}

pub async fn rotate_secret(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(refused) = console.form(&state, &headers, body).await {
        return Ok(refused);
    }
    let back = format!("/admin/clients/{id}");
    if let Some(reauth) = console.stale(&state, &back) {
        return Ok(reauth);
    }
    let issued = service::rotate_secret(&state.store, &id).await;
    let issued = console
        .actor
        .audited(&state, Action::AdminClientSecretRotated, Some(&id), issued)
        .await;
    match issued {
        Ok(issued) => {
            forget_cached(&state).await?;
            Ok(secret_page(&state, &console, &issued, "New secret"))
        }
        Err(ClientError::NotFound(_)) => Ok(not_found(&state, &console, &id)),
        Err(e) => {
            let (status, error) = refusal(e)?;
            Ok(console.message(&state, status, "Secret not rotated", &error, &back))
        }
    }
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
    if let Some(reauth) = console.stale(&state, &format!("/admin/clients/{id}")) {
        return Ok(reauth);
    }
    let deleted = service::delete(&state.store, &id).await;
    let deleted = console
        .actor
        .audited(&state, Action::AdminClientDeleted, Some(&id), deleted)
        .await;
    match deleted {
        Ok(()) => {
            forget_cached(&state).await?;
            let notice = format!("Client {id} deleted, with its codes, grants and tokens.");
            list_page(&state, &console, StatusCode::OK, Some(&notice)).await
        }
        Err(ClientError::NotFound(_)) => Ok(not_found(&state, &console, &id)),
        Err(e) => Err(AppError::from(anyhow::anyhow!("{e}"))),
    }
}
