//! DPoP (RFC 9449): the proofs already seen, and the server nonces.

use super::Store;

impl Store {
    /// Records a proof's `jti` for its key; false when it was seen before (a replay). The
    /// primary key decides, so of two instances receiving the same proof one loses.
    pub async fn record_dpop_proof(&self, jkt: &str, jti: &str, expires_at: i64) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "INSERT INTO dpop_proofs (jkt, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jkt, jti) DO NOTHING",
        )
        .bind(jkt)
        .bind(jti)
        .bind(expires_at)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }

    /// The nonce of the window starting at `window_start`: `candidate` if this call is the
    /// first to ask for it, else the one an earlier call (on any instance) stored.
    pub async fn dpop_nonce(&self, window_start: i64, candidate: &str, expires_at: i64) -> Result<String, sqlx::Error> {
        sqlx::query(
            "INSERT INTO dpop_nonces (window_start, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (window_start) DO NOTHING",
        )
        .bind(window_start)
        .bind(candidate)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        sqlx::query_scalar("SELECT nonce FROM dpop_nonces WHERE window_start = $1")
            .bind(window_start)
            .fetch_one(self.pool())
            .await
    }

    /// Whether `nonce` is the nonce of one of the windows starting at or after `since`.
    pub async fn dpop_nonce_known(&self, nonce: &str, since: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("SELECT 1 FROM dpop_nonces WHERE nonce = $1 AND window_start >= $2")
            .bind(nonce)
            .bind(since)
            .fetch_optional(self.pool())
            .await
            .map(|row| row.is_some())
    }
}
