//! The back-channel logout outbox: a logout token per client to notify, retried until
//! delivered or given up on. Rows are claimed before sending, so instances sharing one
//! database do not send the same token twice at once.

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
    pub async fn queue_logout(
        &self,
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
        .execute(self.pool())
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

    /// Takes a delivery for `lease` seconds; false when another worker got it first.
    pub async fn claim_logout(&self, delivery: &Delivery, now: i64, lease: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE logout_deliveries SET next_at = $3 WHERE id = $1 AND next_at = $2")
            .bind(&delivery.id)
            .bind(delivery.next_at)
            .bind(now + lease)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }

    pub async fn finish_logout(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM logout_deliveries WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn retry_logout(&self, id: &str, attempts: i64, next_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE logout_deliveries SET attempts = $2, next_at = $3 WHERE id = $1")
            .bind(id)
            .bind(attempts)
            .bind(next_at)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}
