//! Authorization requests parked while the user signs in. The id travels through the
//! login page; the parameters stay here, so nothing the browser carries can alter them.

use super::Store;

impl Store {
    pub async fn park_request(&self, id: &str, params_json: &str, now: i64, ttl: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO authorization_requests (id, params, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(params_json)
            .bind(now)
            .bind(now + ttl)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// The parked parameters (JSON), when they were parked, and the session a sign-in for
    /// them made, if still live.
    pub async fn parked_request(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(String, i64, Option<String>)>, sqlx::Error> {
        sqlx::query_as::<_, (String, i64, Option<String>)>(
            "SELECT params, created_at, signed_in_session FROM authorization_requests WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Records that the user signed in for this parked request, in `session_id`.
    pub async fn mark_request_signed_in(&self, id: &str, session_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE authorization_requests SET signed_in_session = $2 WHERE id = $1")
            .bind(id)
            .bind(session_id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn drop_request(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM authorization_requests WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Deletes what can no longer be used: expired parked requests, codes and sessions.
    /// Returns the number of rows removed.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, sqlx::Error> {
        let mut removed = 0;
        for sql in [
            "DELETE FROM authorization_requests WHERE expires_at <= $1",
            "DELETE FROM pending_sign_ins WHERE expires_at <= $1",
            "DELETE FROM pushed_requests WHERE expires_at <= $1",
            "DELETE FROM device_codes WHERE expires_at <= $1",
            "DELETE FROM webauthn_challenges WHERE expires_at <= $1",
            // Keep consumed codes until expiry so a replay is still recognised as one.
            "DELETE FROM authorization_codes WHERE expires_at <= $1",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1",
            "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
            "DELETE FROM used_client_assertions WHERE expires_at <= $1",
            "DELETE FROM dpop_proofs WHERE expires_at <= $1",
            "DELETE FROM dpop_nonces WHERE expires_at <= $1",
            "DELETE FROM upstream_trips WHERE expires_at <= $1",
            "DELETE FROM upstream_pending WHERE expires_at <= $1",
            "DELETE FROM initial_access_tokens WHERE expires_at <= $1",
            "DELETE FROM mail_caps WHERE window_start <= $1 - 3600",
        ] {
            removed += sqlx::query(sql).bind(now).execute(self.pool()).await?.rows_affected();
        }
        Ok(removed)
    }
}

impl Store {
    /// Keeps a pushed authorization request (RFC 9126) under the digest of its id.
    pub async fn push_request(
        &self,
        id: &str,
        client_id: &str,
        params_json: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO pushed_requests (id, client_id, params, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(client_id)
            .bind(params_json)
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Takes a live pushed request of `client_id`: used once, whoever asks first.
    pub async fn take_pushed_request(
        &self,
        id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "DELETE FROM pushed_requests WHERE id = $1 AND client_id = $2 AND expires_at > $3 RETURNING params",
        )
        .bind(id)
        .bind(client_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }
}
