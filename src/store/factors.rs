//! Second factors: the authenticator-app secret, recovery codes, and sign-ins waiting for
//! a second factor. Passkeys are [`super::passkeys`]. Every single-use rule (a TOTP step,
//! a recovery code, a pending sign-in) is one conditional statement, so two instances
//! racing for the same use have exactly one winner.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    pub user_id: String,
    /// Sealed under the key-encryption key.
    pub secret: String,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingSignInRow {
    pub id: String,
    pub user_id: String,
    pub identifier: String,
    pub first_factor: String,
    pub idp: Option<String>,
    pub session_id: Option<String>,
    pub request_id: Option<String>,
    pub return_to: Option<String>,
    pub need: String,
    pub expires_at: i64,
}

const PENDING_COLUMNS: &str =
    "id, user_id, identifier, first_factor, idp, session_id, request_id, return_to, need, expires_at";

impl Store {
    pub async fn totp(&self, user_id: &str) -> Result<Option<TotpRow>, sqlx::Error> {
        sqlx::query_as::<_, TotpRow>(
            "SELECT user_id, secret, confirmed_at, last_step, created_at FROM totp_secrets WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await
    }

    /// Starts (or restarts) an enrolment: a new, unconfirmed secret. A confirmed one is
    /// never replaced here; it must be removed first.
    pub async fn start_totp(&self, user_id: &str, sealed: &str, now: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1 AND confirmed_at IS NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO totp_secrets (user_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Accepts the code of time step `step`: only if it is newer than every step accepted
    /// before (RFC 6238 §5.2: a code is good once). Confirms an enrolment on the way.
    pub async fn accept_totp_step(&self, user_id: &str, step: i64, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "UPDATE totp_secrets SET last_step = $2, confirmed_at = COALESCE(confirmed_at, $3) \
             WHERE user_id = $1 AND last_step < $2",
        )
        .bind(user_id)
        .bind(step)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }

    pub async fn delete_totp(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }

    /// Replaces every recovery code of the user with these digests.
    pub async fn replace_recovery_codes(&self, user_id: &str, digests: &[String]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for digest in digests {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(digest)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Spends a recovery code; false if it is not one of the user's unused codes.
    pub async fn use_recovery_code(&self, user_id: &str, digest: &str, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
            .bind(user_id)
            .bind(digest)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }

    pub async fn unused_recovery_codes(&self, user_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(self.pool())
            .await
    }

    pub async fn passkey_count(&self, user_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await
    }

    pub async fn create_pending_sign_in(&self, row: &PendingSignInRow) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO pending_sign_ins ({PENDING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&row.identifier)
        .bind(&row.first_factor)
        .bind(&row.idp)
        .bind(&row.session_id)
        .bind(&row.request_id)
        .bind(&row.return_to)
        .bind(&row.need)
        .bind(row.expires_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn pending_sign_in(&self, id: &str, now: i64) -> Result<Option<PendingSignInRow>, sqlx::Error> {
        sqlx::query_as::<_, PendingSignInRow>(&format!(
            "SELECT {PENDING_COLUMNS} FROM pending_sign_ins WHERE id = $1 AND expires_at > $2"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Ends a pending sign-in; true for the one caller that ended it.
    pub async fn take_pending_sign_in(&self, id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM pending_sign_ins WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }

    /// Raises a live session to a stronger sign-in (step-up) without ending it, so the
    /// apps it signed in to stay signed in.
    pub async fn raise_session(&self, id: &str, amr: &str, auth_time: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE sessions SET amr = $2, auth_time = $3 WHERE id = $1")
            .bind(id)
            .bind(amr)
            .bind(auth_time)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }
}
