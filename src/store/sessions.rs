//! Browser sessions. The cookie holds a random value; the row holds its digest.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub csrf_token: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// How the user signed in (RFC 8176): `pwd`, or `fed` through an upstream.
    pub amr: String,
    /// The upstream's id, for a `fed` sign-in.
    pub idp: Option<String>,
}

const COLUMNS: &str = "id, user_id, csrf_token, auth_time, created_at, last_seen_at, expires_at, amr, idp";

impl Store {
    pub async fn create_session(&self, row: &SessionRow, cookie_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (id, cookie_hash, user_id, csrf_token, auth_time, created_at, \
             last_seen_at, expires_at, amr, idp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.id)
        .bind(cookie_hash)
        .bind(&row.user_id)
        .bind(&row.csrf_token)
        .bind(row.auth_time)
        .bind(row.created_at)
        .bind(row.last_seen_at)
        .bind(row.expires_at)
        .bind(&row.amr)
        .bind(&row.idp)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// The live session behind a cookie digest: not past its absolute expiry and used
    /// within `idle_ttl` seconds.
    pub async fn session_by_cookie(
        &self,
        cookie_hash: &str,
        now: i64,
        idle_ttl: i64,
    ) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE cookie_hash = $1 AND expires_at > $2 AND last_seen_at > $3"
        ))
        .bind(cookie_hash)
        .bind(now)
        .bind(now - idle_ttl)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn session_by_id(&self, id: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query_as::<_, SessionRow>(&format!("SELECT {COLUMNS} FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Deletes the session behind a cookie digest; returns it, so its tokens can follow.
    pub async fn delete_session_by_cookie(&self, cookie_hash: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "DELETE FROM sessions WHERE cookie_hash = $1 RETURNING {COLUMNS}"
        ))
        .bind(cookie_hash)
        .fetch_optional(self.pool())
        .await
    }

    /// Deletes sessions past their absolute or idle end; returns them, for what follows
    /// in the same transaction.
    pub async fn take_expired_sessions_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        now: i64,
        idle_ttl: i64,
    ) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2 RETURNING {COLUMNS}"
        ))
        .bind(now)
        .bind(now - idle_ttl)
        .fetch_all(&mut **tx)
        .await
    }

    pub async fn user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(self.pool())
        .await
    }

    /// Ends the user's sessions except `keep`; returns the ended ones.
    pub async fn end_user_sessions(&self, user_id: &str, keep: Option<&str>) -> Result<Vec<SessionRow>, sqlx::Error> {
        let sessions = sqlx::query_as::<_, SessionRow>(&format!(
            "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING {COLUMNS}"
        ))
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        Ok(sessions)
    }

    /// Counts the session as a fresh sign-in (a re-authentication at its upstream).
    pub async fn refresh_auth_time(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sessions SET auth_time = $2, last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn end_session_by_id(&self, user_id: &str, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}
