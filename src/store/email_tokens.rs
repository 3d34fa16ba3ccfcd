//! Single-use links sent by email: confirmation, password reset, email change.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailToken {
    pub user_id: String,
    pub email: String,
    pub request_id: Option<String>,
    /// Digest of a value only the browser that asked for the link holds.
    pub browser_hash: Option<String>,
}

pub struct NewEmailToken<'a> {
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub purpose: &'a str,
    pub email: &'a str,
    pub request_id: Option<&'a str>,
    pub browser_hash: Option<&'a str>,
    pub ttl: i64,
}

impl Store {
    /// Stores a new token for (`user_id`, `purpose`), replacing any earlier one in the same
    /// statement: the unique index makes "only the newest link works" hold under races.
    pub async fn issue_email_token(&self, t: &NewEmailToken<'_>, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email, request_id, browser_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = $1, email = $4, request_id = $5, \
             browser_hash = $6, created_at = $7, expires_at = $8",
        )
        .bind(t.token_hash)
        .bind(t.user_id)
        .bind(t.purpose)
        .bind(t.email)
        .bind(t.request_id)
        .bind(t.browser_hash)
        .bind(now)
        .bind(now + t.ttl)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// The live token, without using it up (to show a confirmation page).
    pub async fn peek_email_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<EmailToken>, sqlx::Error> {
        sqlx::query_as::<_, EmailToken>(
            "SELECT user_id, email, request_id, browser_hash FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
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
             RETURNING user_id, email, request_id, browser_hash",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Invalidates every emailed link of a user (after a password change, say).
    /// Kills the user's emailed links, except the one that undoes an email change: that
    /// one must outlive whatever the person who changed the address does next.
    pub async fn drop_email_tokens(&self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose <> 'email_revert'")
            .bind(user_id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}
