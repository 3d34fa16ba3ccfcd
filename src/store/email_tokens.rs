//! Single-use links sent by email: confirmation, password reset, email change.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailToken {
    pub user_id: String,
    pub email: String,
    pub request_id: Option<String>,
}

impl Store {
    /// Stores a new token for (`user_id`, `purpose`), replacing any earlier one: only the
    /// newest link works.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_email_token(
        &self,
        token_hash: &str,
        user_id: &str,
        purpose: &str,
        email: &str,
        request_id: Option<&str>,
        now: i64,
        ttl: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
            .bind(user_id)
            .bind(purpose)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email, request_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose)
        .bind(email)
        .bind(request_id)
        .bind(now)
        .bind(now + ttl)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The live token, without using it up (to show a confirmation page).
    pub async fn peek_email_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<EmailToken>, sqlx::Error> {
        sqlx::query_as::<_, EmailToken>(
            "SELECT user_id, email, request_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Uses the token up. Of concurrent uses exactly one gets it.
    pub async fn take_email_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<EmailToken>, sqlx::Error> {
        sqlx::query_as::<_, EmailToken>(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 \
             RETURNING user_id, email, request_id",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Invalidates every emailed link of a user (after a password change, say).
    pub async fn drop_email_tokens(&self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}
