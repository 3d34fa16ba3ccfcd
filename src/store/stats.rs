//! Counts for the admin console's dashboard. Read-only, one statement each.

use super::Store;

impl Store {
    pub async fn user_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await
    }

    /// Sessions not yet expired at `now`, over all users.
    pub async fn live_session_count(&self, now: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
            .bind(now)
            .fetch_one(self.pool())
            .await
    }
}
