//! `/admin/audit`: the audit trail, newest first, filtered by user, action and outcome,
//! a page at a time, read through the same service as `GET /admin/api/v1/audit`.

use super::guard::Console;
use crate::accounts::activity::when;
use crate::admin::audit::{self as service, AuditEventView, AuditQuery};
use crate::audit::Action;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use std::collections::HashMap;

/// Events per page.
const PAGE: i64 = 50;

/// The filters in a query string; an empty one is none.
struct Filters {
    user_id: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    before: Option<String>,
}

/// Events as the console lists them: the action in words, the time in UTC, and the
/// actor's current username beside their id (none once the account is gone).
pub async fn rows(state: &AppState, events: &[AuditEventView]) -> Result<Vec<minijinja::Value>, AppError> {
    let mut names: HashMap<&str, Option<String>> = HashMap::new();
    for id in events.iter().filter_map(|e| e.actor_user_id.as_deref()) {
        if !names.contains_key(id) {
            let account = state.store.account_by_id(id).await?;
            names.insert(id, account.map(|a| a.username));
        }
    }
    Ok(events
        .iter()
        .map(|e| {
            let what = Action::parse(&e.action).map_or_else(|| e.action.clone(), |a| a.label().to_string());
            let actor_name = e
                .actor_user_id
                .as_deref()
                .and_then(|id| names.get(id).cloned().flatten());
            context! {
                id => e.id, when => when(e.at), action => e.action, what, failure => e.outcome == "failure",
                outcome => e.outcome, actor => e.actor_user_id, actor_name, client_id => e.client_id,
                target => e.target, ip => e.ip, user_agent => e.user_agent, detail => e.detail,
            }
        })
        .collect())
}

pub async fn list(
    console: Console,
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let query = match console.query(&state, raw.as_deref(), "/admin/audit") {
        Ok(query) => query,
        Err(refused) => return Ok(*refused),
    };
    let given = |name: &str| query.get(name).map(str::to_string);
    let filters = Filters {
        user_id: given("user_id"),
        action: given("action"),
        outcome: given("outcome"),
        before: given("before"),
    };
    let actions: Vec<minijinja::Value> = Action::ALL
        .iter()
        .map(|a| context! { name => a.as_str(), label => a.label() })
        .collect();
    let chosen = context! {
        user_id => filters.user_id, action => filters.action, outcome => filters.outcome,
    };
    let before = match filters.before.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(before) => Some(before),
            Err(_) => {
                return Ok(refused(
                    &state,
                    &console,
                    actions,
                    chosen,
                    "That page link is broken; start from the first page.",
                ));
            }
        },
    };
    let query = AuditQuery {
        user_id: filters.user_id.clone(),
        action: filters.action.clone(),
        outcome: filters.outcome.clone(),
        before,
        limit: Some(PAGE),
    };
    let page = match service::list(&state, &query).await? {
        Ok(page) => page,
        Err(bad) => return Ok(refused(&state, &console, actions, chosen, &bad.message)),
    };
    let next = page.next_cursor.map(|cursor| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("user_id", &filters.user_id),
            ("action", &filters.action),
            ("outcome", &filters.outcome),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(name, value);
            }
        }
        query.append_pair("before", &cursor.to_string());
        format!("/admin/audit?{}", query.finish())
    });
    let events = rows(&state, &page.events).await?;
    Ok(console.render(
        &state,
        StatusCode::OK,
        "admin/audit.html",
        context! { section => "audit", events, actions, chosen, next, paged => before.is_some() },
    ))
}

fn refused(
    state: &AppState,
    console: &Console,
    actions: Vec<minijinja::Value>,
    chosen: minijinja::Value,
    error: &str,
) -> Response {
    console.render(
        state,
        StatusCode::BAD_REQUEST,
        "admin/audit.html",
        context! { section => "audit", events => Vec::<minijinja::Value>::new(), actions, chosen, error },
    )
}
