//! Authorization codes: issued at /authorize, consumed once at /token.

use super::Store;
use sqlx::{Any, Transaction};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    /// The `claims` request, as stored by `claims::Requested::to_column`.
    pub claims: Option<String>,
    pub acr: String,
    pub amr: String,
    pub idp: Option<String>,
    /// The DPoP key thumbprint the code is bound to (`dpop_jkt`, RFC 9449 §10).
    pub dpop_jkt: Option<String>,
}

const COLUMNS: &str = "grant_id, client_id, user_id, session_id, redirect_uri, scope, nonce, \
                       code_challenge, auth_time, expires_at, claims, acr, amr, idp, dpop_jkt";

/// What consuming a code found.
#[derive(Debug)]
pub enum Consumed {
    /// This call consumed it: the only one that ever will.
    Fresh(Box<CodeRow>),
    /// It was consumed before: a replay. Carries the grant the first use created.
    Replayed {
        grant_id: String,
    },
    Unknown,
}

impl Store {
    pub async fn insert_code(&self, code_hash: &str, row: &CodeRow, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, session_id, \
             redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, claims, \
             acr, amr, idp, dpop_jkt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(code_hash)
        .bind(&row.grant_id)
        .bind(&row.client_id)
        .bind(&row.user_id)
        .bind(&row.session_id)
        .bind(&row.redirect_uri)
        .bind(&row.scope)
        .bind(&row.nonce)
        .bind(&row.code_challenge)
        .bind(row.auth_time)
        .bind(now)
        .bind(row.expires_at)
        .bind(&row.claims)
        .bind(&row.acr)
        .bind(&row.amr)
        .bind(&row.idp)
        .bind(&row.dpop_jkt)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.pool().begin().await
    }

    /// The code, if it exists and is not consumed: a plain read that spends nothing.
    pub async fn unconsumed_code(&self, code_hash: &str) -> Result<Option<CodeRow>, sqlx::Error> {
        sqlx::query_as::<_, CodeRow>(&format!(
            "SELECT {COLUMNS} FROM authorization_codes WHERE code_hash = $1 AND consumed_at IS NULL"
        ))
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await
    }

    /// Marks the code consumed inside `tx`. Of any number of concurrent calls for one code,
    /// exactly one sees `Fresh`: the conditional UPDATE is decided by the database.
    pub async fn consume_code(
        tx: &mut Transaction<'static, Any>,
        code_hash: &str,
        now: i64,
    ) -> Result<Consumed, sqlx::Error> {
        let fresh = sqlx::query_as::<_, CodeRow>(&format!(
            "UPDATE authorization_codes SET consumed_at = $2 \
             WHERE code_hash = $1 AND consumed_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = fresh {
            return Ok(Consumed::Fresh(Box::new(row)));
        }
        let previous = sqlx::query_as::<_, (String,)>("SELECT grant_id FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(match previous {
            Some((grant_id,)) => Consumed::Replayed { grant_id },
            None => Consumed::Unknown,
        })
    }

    /// Whether the session exists and is within its absolute and idle lifetimes.
    pub async fn session_live_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        session_id: &str,
        now: i64,
        idle_ttl: i64,
    ) -> Result<bool, sqlx::Error> {
        // On PostgreSQL the row is share-locked until the exchange commits, so a logout on
        // another node deletes the session (and revokes its grants) only after the grant
        // made here exists. SQLite serializes writers, and a write after a stale read fails.
        let lock = match self.backend() {
            super::Backend::Postgres => " FOR SHARE",
            super::Backend::Sqlite => "",
        };
        sqlx::query(&format!(
            "SELECT 1 FROM sessions WHERE id = $1 AND expires_at > $2 AND last_seen_at > $3{lock}"
        ))
        .bind(session_id)
        .bind(now)
        .bind(now - idle_ttl)
        .fetch_optional(&mut **tx)
        .await
        .map(|row| row.is_some())
    }
}
