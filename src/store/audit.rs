//! The audit trail's table: append, list (filtered, newest first, keyset-paged by id) and
//! prune past the retention. There is deliberately no statement that updates a row: an
//! event, once written, is only ever read or, after the retention, deleted.

use super::Store;

/// One event as written. The audit service above the store fills it; nothing here knows
/// which actions exist.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub at: i64,
    pub actor_user_id: Option<&'a str>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub target: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub detail: Option<&'a str>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: i64,
    pub at: i64,
    pub actor_user_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub target: Option<String>,
    pub client_id: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub detail: Option<String>,
}

/// What to list. Every filter left `None` matches everything; `before_id` is the keyset
/// cursor: the `id` of the last row of the previous page.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_user_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Events at or after this time (unix seconds).
    pub since: Option<i64>,
    /// Events before this time (unix seconds).
    pub until: Option<i64>,
    pub before_id: Option<i64>,
    /// At most this many rows (capped at [`MAX_PAGE`]).
    pub limit: i64,
}

/// The largest page one call returns, whatever the caller asks.
pub const MAX_PAGE: i64 = 500;

const COLUMNS: &str = "id, at, actor_user_id, action, outcome, target, client_id, ip, user_agent, detail";

impl Store {
    pub async fn insert_audit_event(&self, event: &NewAuditEvent<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_events (at, actor_user_id, action, outcome, target, client_id, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(event.at)
        .bind(event.actor_user_id)
        .bind(event.action)
        .bind(event.outcome)
        .bind(event.target)
        .bind(event.client_id)
        .bind(event.ip)
        .bind(event.user_agent)
        .bind(event.detail)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Events matching `filter`, newest first. The next page is the same filter with
    /// `before_id` set to the last row's id: ids only grow, so a page never repeats or
    /// skips a row however many are appended meanwhile.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEventRow>, sqlx::Error> {
        // The clauses are fixed text; only their values are bound.
        let mut clauses: Vec<String> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        for (column, value) in [
            ("actor_user_id", &filter.actor_user_id),
            ("action", &filter.action),
            ("outcome", &filter.outcome),
        ] {
            if let Some(value) = value {
                texts.push(value);
                clauses.push(format!("{column} = ${}", texts.len()));
            }
        }
        for (clause, value) in [
            ("at >=", filter.since),
            ("at <", filter.until),
            ("id <", filter.before_id),
        ] {
            if let Some(value) = value {
                numbers.push(value);
                clauses.push(format!("{clause} ${}", texts.len() + numbers.len()));
            }
        }
        let filters = match clauses.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", clauses.join(" AND ")),
        };
        let limit = filter.limit.clamp(0, MAX_PAGE);
        let sql = format!("SELECT {COLUMNS} FROM audit_events {filters} ORDER BY id DESC LIMIT {limit}");
        let mut query = sqlx::query_as::<_, AuditEventRow>(&sql);
        for text in texts {
            query = query.bind(text);
        }
        for number in numbers {
            query = query.bind(number);
        }
        query.fetch_all(self.pool()).await
    }

    /// Deletes events older than `cutoff` (unix seconds); returns how many.
    pub async fn prune_audit_events(&self, cutoff: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(cutoff)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
    }
}
