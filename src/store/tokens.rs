//! Refresh tokens, revoked access tokens, and replayed client assertions.

use super::Store;
use sqlx::{Any, Transaction};

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum Rotation {
    /// This call rotated it out: the only one that ever will.
    Fresh {
        grant_id: String,
        expires_at: i64,
    },
    /// It was rotated out before: a replay. Carries its family (grant).
    Reused {
        grant_id: String,
    },
    /// It belongs to another client; nothing was changed.
    OtherClient,
    Unknown,
}

#[derive(Debug, sqlx::FromRow)]
pub struct RefreshRow {
    pub grant_id: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Store {
    pub async fn insert_refresh_token(
        tx: &mut Transaction<'static, Any>,
        token_hash: &str,
        grant_id: &str,
        client_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(grant_id)
        .bind(client_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await
        .map(|_| ())
    }

    /// Marks the token used inside `tx`, if it is `client_id`'s and unused. Of any number
    /// of concurrent calls, exactly one sees `Fresh`. A token of another client is left
    /// untouched, so presenting it to the wrong client cannot burn its family.
    pub async fn rotate_refresh_token(
        tx: &mut Transaction<'static, Any>,
        token_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Rotation, sqlx::Error> {
        let fresh = sqlx::query_as::<_, (String, i64)>(
            "UPDATE refresh_tokens SET used_at = $3 \
             WHERE token_hash = $1 AND client_id = $2 AND used_at IS NULL RETURNING grant_id, expires_at",
        )
        .bind(token_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((grant_id, expires_at)) = fresh {
            return Ok(Rotation::Fresh { grant_id, expires_at });
        }
        let row = sqlx::query_as::<_, (String, String)>(
            "SELECT grant_id, client_id FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(match row {
            None => Rotation::Unknown,
            Some((_, owner)) if owner != client_id => Rotation::OtherClient,
            Some((grant_id, _)) => Rotation::Reused { grant_id },
        })
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>, sqlx::Error> {
        sqlx::query_as::<_, RefreshRow>(
            "SELECT grant_id, client_id, created_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
    }

    /// Revokes one access token by its `jti` until it would have expired anyway.
    pub async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(self.pool())
            .await
            .map(|row| row.is_some())
    }

    /// Records a client assertion's `jti`; false when it was seen before (a replay).
    pub async fn record_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "INSERT INTO used_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }
}
