//! The audit side of administration, shared by the admin API and the console: who is
//! acting ([`Actor`]), one event per change ([`Actor::audited`]), and reading the trail
//! back a page at a time ([`list`]).
//!
//! An admin acting through a user's token or the console is named by their user id; a
//! client-credentials token has no user behind it, so the event's `actor_user_id` is empty
//! and its `client_id` names the client that acted.

use crate::audit::{self, Action, Event, Outcome};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::audit::{AuditEventRow, AuditFilter};
use axum::http::{header, HeaderMap};
use serde::Serialize;
use std::net::IpAddr;
use utoipa::ToSchema;

/// Most events one page holds, and how many when the caller does not say.
pub const MAX_LIMIT: i64 = 200;
pub const DEFAULT_LIMIT: i64 = 50;

/// Who performs an admin change, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: IpAddr,
    /// Only the User-Agent of the request: the rest (cookies, the bearer token) has no
    /// business travelling with the actor.
    headers: HeaderMap,
}

impl Actor {
    pub fn new(user_id: Option<String>, client_id: Option<String>, ip: IpAddr, request: &HeaderMap) -> Actor {
        let mut headers = HeaderMap::new();
        if let Some(agent) = request.get(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, agent.clone());
        }
        Actor {
            user_id,
            client_id,
            ip,
            headers,
        }
    }

    /// Records one event for `action` on `target` (success when `result` is `Ok`), then
    /// hands `result` back, so a call site reads `actor.audited(…, service(…).await)`.
    pub async fn audited<T, E>(
        &self,
        state: &AppState,
        action: Action,
        target: Option<&str>,
        result: Result<T, E>,
    ) -> Result<T, E> {
        self.record(state, action, target, None, Outcome::of(&result)).await;
        result
    }

    /// Records one event; `detail` is a short, non-secret note (a grant's id, "forced").
    pub async fn record(
        &self,
        state: &AppState,
        action: Action,
        target: Option<&str>,
        detail: Option<String>,
        outcome: Outcome,
    ) {
        let mut event = Event::new(action)
            .maybe_actor(self.user_id.as_deref())
            .maybe_client(self.client_id.as_deref());
        if let Some(target) = target {
            event = event.target(target);
        }
        if let Some(detail) = detail {
            event = event.detail(detail);
        }
        if outcome == Outcome::Failure {
            event = event.failed();
        }
        audit::record(state, self.ip, &self.headers, event).await;
    }
}

/// One audit event as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Grows with every event; the `before` cursor.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// E.g. `sign_in`, `sign_in_failed`, `admin.user_disabled`.
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The user who acted, when known (for a client-credentials admin token: empty, and
    /// `client_id` is the client that acted).
    pub actor_user_id: Option<String>,
    pub client_id: Option<String>,
    /// The user, client or key acted upon.
    pub target: Option<String>,
    pub ip: String,
    pub user_agent: String,
    /// A short note: a sign-in method, an upstream, a grant's id.
    pub detail: Option<String>,
}

impl From<AuditEventRow> for AuditEventView {
    fn from(e: AuditEventRow) -> Self {
        AuditEventView {
            id: e.id,
            at: e.at,
            action: e.action,
            outcome: e.outcome,
            actor_user_id: e.actor_user_id,
            client_id: e.client_id,
            target: e.target,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}

/// A page of events, newest first, and the `before` of the next page when there may be
/// more.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    pub next_cursor: Option<i64>,
}

/// What to list; every filter is optional.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// A filter that cannot match anything useful: which field, and why.
#[derive(Debug)]
pub struct BadFilter {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> Result<(), BadFilter> {
    Err(BadFilter {
        field,
        message: message.into(),
    })
}

/// Checks `query`; an empty filter counts as none.
fn validate(query: &AuditQuery) -> Result<(AuditFilter, i64), BadFilter> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let action = given(&query.action);
    if let Some(name) = &action {
        if Action::parse(name).is_none() {
            bad(
                "action",
                format!("unknown action {name:?}: see the audit log section of the README for the names"),
            )?;
        }
    }
    let outcome = given(&query.outcome);
    if outcome.as_deref().is_some_and(|o| o != "success" && o != "failure") {
        bad("outcome", "outcome must be success or failure")?;
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        bad("limit", format!("limit must be between 1 and {MAX_LIMIT}"))?;
    }
    if query.before.is_some_and(|b| b < 1) {
        bad("before", "before must be the next_cursor of a previous page")?;
    }
    let filter = AuditFilter {
        actor_user_id: given(&query.user_id),
        action,
        outcome,
        before_id: query.before,
        // One more than asked, to know whether another page follows.
        limit: limit + 1,
        ..AuditFilter::default()
    };
    Ok((filter, limit))
}

/// Events matching `query`, newest first.
pub async fn list(state: &AppState, query: &AuditQuery) -> Result<Result<AuditPage, BadFilter>, AppError> {
    let (filter, limit) = match validate(query) {
        Ok(valid) => valid,
        Err(e) => return Ok(Err(e)),
    };
    let mut found = state.store.audit_events(&filter).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_cursor = more.then(|| found.last().map(|e| e.id)).flatten();
    Ok(Ok(AuditPage {
        events: found.into_iter().map(AuditEventView::from).collect(),
        next_cursor,
    }))
}
