//! Upstream sign-in: linked identities, trips to an upstream and back, and identities
//! waiting for one more step.

use super::accounts::{insert_account, NewAccount};
use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Identity {
    pub id: String,
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    pub upstream_id: String,
    pub email: String,
    pub linked_at: i64,
    pub last_used_at: i64,
}

const COLUMNS: &str = "id, issuer, subject, user_id, upstream_id, email, linked_at, last_used_at";

pub struct NewIdentity<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub user_id: &'a str,
    pub upstream_id: &'a str,
    pub email: &'a str,
}

impl Store {
    /// Creates an account already linked to an upstream identity, both or neither: a
    /// username, email or identity taken meanwhile is a unique violation and leaves nothing.
    pub async fn create_linked_account(
        &self,
        account: &NewAccount<'_>,
        identity: &NewIdentity<'_>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        insert_account(&mut tx, account, None, now).await?;
        insert_identity(&mut tx, identity, now).await?;
        tx.commit().await
    }

    pub async fn identity(&self, issuer: &str, subject: &str) -> Result<Option<Identity>, sqlx::Error> {
        sqlx::query_as::<_, Identity>(&format!(
            "SELECT {COLUMNS} FROM federated_identities WHERE issuer = $1 AND subject = $2"
        ))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn identities_of(&self, user_id: &str) -> Result<Vec<Identity>, sqlx::Error> {
        sqlx::query_as::<_, Identity>(&format!(
            "SELECT {COLUMNS} FROM federated_identities WHERE user_id = $1 ORDER BY linked_at"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Links an identity. The unique (issuer, subject) index makes a second link of the same
    /// identity, to any account, fail as a unique violation, also under races.
    pub async fn link_identity(&self, new: &NewIdentity<'_>, now: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool().acquire().await?;
        insert_identity(&mut conn, new, now).await
    }

    /// Records a sign-in with the identity and the address the upstream has for it now
    /// (shown on the account page; the account's own email does not follow it).
    pub async fn identity_used(&self, id: &str, email: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE federated_identities SET email = $2, last_used_at = $3 WHERE id = $1")
            .bind(id)
            .bind(email)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Unlinks one of the user's identities, only while the account keeps another way to
    /// sign in (a password or another identity), checked in the same statement so two
    /// concurrent unlinks cannot both succeed. True if it was removed.
    pub async fn unlink_identity(&self, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // The user's row lock orders concurrent unlinks: the second one's check runs after
        // the first has committed, and sees what is left.
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "DELETE FROM federated_identities WHERE id = $1 AND user_id = $2 AND ( \
               EXISTS (SELECT 1 FROM users WHERE id = $2 AND password_hash IS NOT NULL) \
               OR (SELECT COUNT(*) FROM federated_identities WHERE user_id = $2) > 1)",
        )
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn save_trip(
        &self,
        state_hash: &str,
        browser_hash: &str,
        upstream_id: &str,
        data: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO upstream_trips (state_hash, browser_hash, upstream_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(browser_hash)
        .bind(upstream_id)
        .bind(data)
        .bind(expires_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Uses up the trip that sent `state`, if this browser made it for this upstream: a
    /// replayed callback, or one carried to another browser, finds nothing. Of concurrent
    /// callbacks exactly one gets it.
    pub async fn take_trip(
        &self,
        state_hash: &str,
        browser_hash: &str,
        upstream_id: &str,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "DELETE FROM upstream_trips WHERE state_hash = $1 AND browser_hash = $2 AND upstream_id = $3 \
             AND expires_at > $4 RETURNING data",
        )
        .bind(state_hash)
        .bind(browser_hash)
        .bind(upstream_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Keeps the browser's one pending identity, replacing an earlier one.
    pub async fn save_pending(&self, browser_hash: &str, data: &str, expires_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO upstream_pending (browser_hash, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (browser_hash) DO UPDATE SET data = $2, expires_at = $3",
        )
        .bind(browser_hash)
        .bind(data)
        .bind(expires_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn pending(&self, browser_hash: &str, now: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT data FROM upstream_pending WHERE browser_hash = $1 AND expires_at > $2")
            .bind(browser_hash)
            .bind(now)
            .fetch_optional(self.pool())
            .await
    }

    /// Uses the pending identity up; of concurrent finishes exactly one gets it.
    pub async fn take_pending(&self, browser_hash: &str, now: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("DELETE FROM upstream_pending WHERE browser_hash = $1 AND expires_at > $2 RETURNING data")
            .bind(browser_hash)
            .bind(now)
            .fetch_optional(self.pool())
            .await
    }
}

async fn insert_identity(conn: &mut sqlx::AnyConnection, new: &NewIdentity<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO federated_identities (id, issuer, subject, user_id, upstream_id, email, linked_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(new.id)
    .bind(new.issuer)
    .bind(new.subject)
    .bind(new.user_id)
    .bind(new.upstream_id)
    .bind(new.email)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}
