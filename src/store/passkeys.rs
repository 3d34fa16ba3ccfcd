//! Passkeys and WebAuthn ceremonies in progress (tables in migration 11). A ceremony's
//! row is taken with one `DELETE … RETURNING`, so of two requests finishing the same
//! ceremony (a replay, or two instances racing) exactly one gets its state.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    /// The credential id, base64url without padding.
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The `webauthn_rs::prelude::Passkey`, as JSON.
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A ceremony's stored half, as `begin` wrote it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub user_id: Option<String>,
    pub state: String,
}

const COLUMNS: &str = "id, user_id, name, credential, created_at, last_used_at";

impl Store {
    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: &str) -> Result<Vec<PasskeyRow>, sqlx::Error> {
        sqlx::query_as::<_, PasskeyRow>(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn passkey(&self, id: &str) -> Result<Option<PasskeyRow>, sqlx::Error> {
        sqlx::query_as::<_, PasskeyRow>(&format!("SELECT {COLUMNS} FROM passkeys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Stores a new credential; false when its id is already registered (to anyone).
    pub async fn add_passkey(&self, row: &PasskeyRow) -> Result<bool, sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO passkeys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
        ))
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&row.name)
        .bind(&row.credential)
        .bind(row.created_at)
        .bind(row.last_used_at)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }

    /// After a use: the credential as updated (its signature counter) and when.
    pub async fn passkey_used(&self, id: &str, credential: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE passkeys SET credential = $2, last_used_at = $3 WHERE id = $1")
            .bind(id)
            .bind(credential)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Renames one of the user's passkeys; false if the user has none with this id.
    pub async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .bind(name)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }

    /// Removes one of the user's passkeys; false if the user has none with this id.
    pub async fn delete_passkey(&self, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }

    /// Keeps a ceremony's state under the digest of the id the browser holds.
    pub async fn create_webauthn_challenge(
        &self,
        id: &str,
        user_id: Option<&str>,
        purpose: &str,
        state: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO webauthn_challenges (id, user_id, purpose, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user_id)
        .bind(purpose)
        .bind(state)
        .bind(expires_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Takes a live ceremony of `purpose`: the one caller that gets the row may finish it;
    /// an unknown, expired, used or other-purpose id gives None.
    pub async fn take_webauthn_challenge(
        &self,
        id: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<ChallengeRow>, sqlx::Error> {
        sqlx::query_as::<_, ChallengeRow>(
            "DELETE FROM webauthn_challenges WHERE id = $1 AND purpose = $2 AND expires_at > $3 \
             RETURNING user_id, state",
        )
        .bind(id)
        .bind(purpose)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }
}
