//! `/admin`: how many users, clients and live sessions there are, and the latest sign-ins
//! and failed sign-ins from the audit trail.

use super::audit::rows;
use super::guard::Console;
use crate::admin::audit::{self as service, AuditQuery};
use crate::audit::Action;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

/// How many of each kind of recent event the dashboard lists.
const RECENT: i64 = 8;

async fn recent(state: &AppState, action: Action) -> Result<Vec<minijinja::Value>, AppError> {
    let query = AuditQuery {
        action: Some(action.as_str().to_string()),
        limit: Some(RECENT),
        ..AuditQuery::default()
    };
    match service::list(state, &query).await? {
        Ok(page) => rows(state, &page.events).await,
        // The filter is ours and always valid.
        Err(_) => Ok(Vec::new()),
    }
}

pub async fn show(console: Console, State(state): State<AppState>) -> Result<Response, AppError> {
    let users = state.store.user_count().await?;
    let clients = state.store.clients().await?.len();
    let sessions = state.store.live_session_count(state.clock.now()).await?;
    let sign_ins = recent(&state, Action::SignIn).await?;
    let failures = recent(&state, Action::SignInFailed).await?;
    Ok(console.render(
        &state,
        StatusCode::OK,
        "admin/dashboard.html",
        context! { section => "dashboard", users, clients, sessions, sign_ins, failures },
    ))
}
