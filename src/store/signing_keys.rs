//! Signing keys, sealed. What sealing means is `keys::kek`'s business; here they are rows.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub sealed: String,
    pub created_at: i64,
    pub signing_from: i64,
    pub retired_at: Option<i64>,
}

const COLUMNS: &str = "kid, sealed, created_at, signing_from, retired_at";

impl Store {
    pub async fn signing_keys(&self) -> Result<Vec<StoredKey>, sqlx::Error> {
        sqlx::query_as::<_, StoredKey>(&format!("SELECT {COLUMNS} FROM signing_keys ORDER BY kid"))
            .fetch_all(self.pool())
            .await
    }

    /// What changes when a key is added or retired, without the sealed keys: cheap enough
    /// to poll every few seconds.
    pub async fn signing_key_states(&self) -> Result<Vec<(String, i64, Option<i64>)>, sqlx::Error> {
        sqlx::query_as("SELECT kid, signing_from, retired_at FROM signing_keys ORDER BY kid")
            .fetch_all(self.pool())
            .await
    }

    pub async fn add_signing_key(&self, key: &StoredKey) -> Result<(), sqlx::Error> {
        let mut conn = self.pool().acquire().await?;
        insert(&mut conn, key).await
    }

    /// Stores `keys` as the deployment's first, unless another instance already did: the
    /// single `signing_key_init` row decides, in the same transaction. True if ours went in.
    pub async fn add_first_signing_keys(&self, keys: &[StoredKey], now: i64) -> Result<bool, sqlx::Error> {
        let Some(first) = keys.first() else {
            return Ok(false);
        };
        let mut tx = self.pool().begin().await?;
        let won = sqlx::query(
            "INSERT INTO signing_key_init (id, kid, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&first.kid)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            tx.rollback().await?;
            return Ok(false);
        }
        for key in keys {
            insert(&mut tx, key).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a key retired; false when there is no such key.
    pub async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL")
            .bind(kid)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }
}

async fn insert(conn: &mut sqlx::AnyConnection, key: &StoredKey) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO signing_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(&key.kid)
    .bind(&key.sealed)
    .bind(key.created_at)
    .bind(key.signing_from)
    .bind(key.retired_at)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}
