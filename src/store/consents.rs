//! Consent a user gave a third-party client, per (user, client): the scopes and when.

use super::Store;

impl Store {
    /// The consented scopes (space-separated) and when consent was last given.
    pub async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT scope, granted_at FROM consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await
    }

    /// Records consent to `scope`, replacing what was given before.
    pub async fn save_consent(&self, user_id: &str, client_id: &str, scope: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// (client_id, client name, scope) for every consent the user gave.
    pub async fn consents(&self, user_id: &str) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT c.client_id, k.name, c.scope FROM consents c JOIN clients k ON k.id = c.client_id \
             WHERE c.user_id = $1 ORDER BY k.name",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }
}
