//! The back-channel logout outbox: a logout token per client to notify. Claiming,
//! finishing and rescheduling rows is shared with the mail outbox (`store::outbox`).

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    pub client_id: String,
    pub uri: String,
    pub logout_token: String,
    pub attempts: i64,
    pub next_at: i64,
}

impl Store {
    pub async fn queue_logout_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &str,
        client_id: &str,
        uri: &str,
        token: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO logout_deliveries (id, client_id, uri, logout_token, attempts, next_at, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(id)
        .bind(client_id)
        .bind(uri)
        .bind(token)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map(|_| ())
    }

    pub async fn due_logouts(&self, now: i64, limit: i64) -> Result<Vec<Delivery>, sqlx::Error> {
        sqlx::query_as::<_, Delivery>(
            "SELECT id, client_id, uri, logout_token, attempts, next_at FROM logout_deliveries \
             WHERE next_at <= $1 ORDER BY next_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}

impl super::outbox::Queued for Delivery {
    fn id(&self) -> &str {
        &self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
    fn next_at(&self) -> i64 {
        self.next_at
    }
}

impl Store {
    /// Back-channel logout deliveries waiting (a metric).
    pub async fn pending_logout_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM logout_deliveries")
            .fetch_one(self.pool())
            .await
    }
}
