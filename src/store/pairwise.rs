//! The pairwise-subject salt: one row, created by whichever instance gets there first.

use super::Store;

impl Store {
    /// The deployment's salt: `candidate` if none was stored yet, else the stored one.
    /// The insert that loses a race changes nothing, so every instance reads the same.
    pub async fn pairwise_salt(&self, candidate: &str, now: i64) -> Result<String, sqlx::Error> {
        sqlx::query("INSERT INTO pairwise_salt (id, salt, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(candidate)
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query_scalar("SELECT salt FROM pairwise_salt WHERE id = 1")
            .fetch_one(self.pool())
            .await
    }
}
