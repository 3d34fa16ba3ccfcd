//! `/admin/users`: search a page at a time, and show one user (sessions, linked
//! identities, second factors, grants). The changes on a user's page are `user_changes`.

use super::guard::Console;
use crate::accounts::activity::when;
use crate::admin::users as service;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

/// Users per search page.
const PAGE: i64 = 25;

pub async fn search(
    console: Console,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = match console.query(&state, raw.as_deref(), "/admin/users") {
        Ok(query) => query,
        Err(refused) => return Ok(*refused),
    };
    let q = query.get("q").unwrap_or_default().to_string();
    let cursor = query.get("cursor").map(str::to_string);
    let page = service::search(&state, Some(&q), cursor.as_deref(), PAGE).await?;
    let link = |cursor: Option<&str>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("q", &q);
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        format!("/admin/users?{}", query.finish())
    };
    let next = page.next_cursor.as_deref().map(|cursor| link(Some(cursor)));
    let first = cursor.is_some().then(|| link(None));
    let users = minijinja::Value::from_serialize(&page.users);
    Ok(console.render(
        &state,
        StatusCode::OK,
        "admin/users.html",
        context! { section => "users", users, q, next, first },
    ))
}

pub(super) fn not_found(state: &AppState, console: &Console, id: &str) -> Response {
    console.message(
        state,
        StatusCode::NOT_FOUND,
        "No such user",
        &format!("There is no user with id {id:?}. The account may have been deleted."),
        "/admin/users",
    )
}

pub(super) async fn show_page(
    state: &AppState,
    console: &Console,
    id: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let Some(user) = service::show(state, id).await? else {
        return Ok(not_found(state, console, id));
    };
    let now = state.clock.now();
    let sessions = state.store.user_sessions(id, now).await?.len();
    let identities: Vec<minijinja::Value> = service::identities(state, id)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|i| context! { id => i.id, upstream_id => i.upstream_id, email => i.email, linked => when(i.linked_at) })
        .collect();
    let grants: Vec<minijinja::Value> = service::grants(state, id)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|g| context! { id => g.id, client_id => g.client_id, scope => g.scope, offline => g.offline, since => when(g.auth_time) })
        .collect();
    let totp = state.store.totp(id).await?.is_some_and(|t| t.confirmed_at.is_some());
    let passkeys: Vec<minijinja::Value> = state
        .store
        .passkeys(id)
        .await?
        .into_iter()
        .map(|p| context! { name => p.name, added => when(p.created_at) })
        .collect();
    let recovery_codes = state.store.unused_recovery_codes(id).await?;
    let disabled_since = user.disabled_at.map(when);
    let user = minijinja::Value::from_serialize(&user);
    Ok(console.render(
        state,
        status,
        "admin/user.html",
        context! {
            section => "users", user, disabled_since, sessions, identities, grants, totp, passkeys,
            recovery_codes, notice, error, own => id == console.account.id,
        },
    ))
}

pub async fn show(
    console: Console,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    show_page(&state, &console, &id, StatusCode::OK, None, None).await
}
