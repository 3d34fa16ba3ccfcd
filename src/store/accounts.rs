//! Users.

use super::Store;
use crate::contact::Contact;
use crate::users::{identifier_key, Account};

const COLUMNS: &str =
    "id, username, email, email_verified, given_name, family_name, password_hash, updated_at, is_admin, disabled_at, \
     phone_number, street_address, locality, region, postal_code, country";

pub struct NewAccount<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password_hash: &'a str,
}

/// A failed login is forgiven after this long without another.
pub const FORGIVE_SECS: i64 = 5 * 60;

impl Store {
    /// Inserts a user. A duplicate username or email is a unique violation
    /// (see [`super::is_unique_violation`]): the database, not a prior lookup, decides.
    pub async fn create_account(&self, new: &NewAccount<'_>, now: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool().acquire().await?;
        insert_account(&mut conn, new, Some(new.password_hash), now).await
    }

    pub async fn account_by_id(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        sqlx::query_as::<_, Account>(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// As `account_by_id`, inside a transaction that may hold SQLite's write lock: a read
    /// on a second pooled connection would wait on it.
    pub async fn account_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: &str,
    ) -> Result<Option<Account>, sqlx::Error> {
        sqlx::query_as::<_, Account>(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
    }

    /// Finds a user by username or email, case-insensitively.
    pub async fn account_by_identifier(&self, identifier: &str) -> Result<Option<Account>, sqlx::Error> {
        let key = identifier_key(identifier);
        let column = if key.contains('@') { "email_key" } else { "username_key" };
        sqlx::query_as::<_, Account>(&format!("SELECT {COLUMNS} FROM users WHERE {column} = $1"))
            .bind(key)
            .fetch_optional(self.pool())
            .await
    }

    /// Users whose username, email or name contains `query` (case-insensitively; every
    /// user when `None`), in id order after the id `after`, at most `limit` of them.
    pub async fn search_accounts(
        &self,
        query: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Account>, sqlx::Error> {
        let pattern = query.map(|q| {
            let escaped = identifier_key(q)
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        sqlx::query_as::<_, Account>(&format!(
            "SELECT {COLUMNS} FROM users WHERE id > $1 AND ($2 IS NULL \
             OR username_key LIKE $2 ESCAPE '\\' OR email_key LIKE $2 ESCAPE '\\' \
             OR LOWER(given_name || ' ' || family_name) LIKE $2 ESCAPE '\\') \
             ORDER BY id LIMIT $3"
        ))
        .bind(after.unwrap_or_default())
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// Grants or takes away the admin role of the user with this username; returns
    /// whether there is one.
    pub async fn set_admin(&self, username: &str, admin: bool, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE users SET is_admin = $2, updated_at = $3 WHERE username_key = $1")
            .bind(identifier_key(username))
            .bind(admin as i64)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }

    /// Disables the user from `at`, or enables them with `None`; returns whether the user
    /// exists.
    pub async fn set_disabled(&self, user_id: &str, at: Option<i64>, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(at)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }

    pub async fn set_email_verified(&self, user_id: &str, email: &str, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE users SET email_verified = 1, updated_at = $3 WHERE id = $1 AND email = $2")
            .bind(user_id)
            .bind(email)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn set_contact(&self, user_id: &str, contact: &Contact, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET phone_number = $2, street_address = $3, locality = $4, region = $5, \
             postal_code = $6, country = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(user_id)
        .bind(&contact.phone_number)
        .bind(&contact.street_address)
        .bind(&contact.locality)
        .bind(&contact.region)
        .bind(&contact.postal_code)
        .bind(&contact.country)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn set_names(&self, user_id: &str, given: &str, family: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET given_name = $2, family_name = $3, updated_at = $4 WHERE id = $1")
            .bind(user_id)
            .bind(given)
            .bind(family)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Renames; a taken name is a unique violation.
    pub async fn set_username(&self, user_id: &str, username: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET username = $2, username_key = $3, updated_at = $4 WHERE id = $1")
            .bind(user_id)
            .bind(username)
            .bind(identifier_key(username))
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Switches to a confirmed address; a taken address is a unique violation.
    pub async fn set_email(&self, user_id: &str, email: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET email = $2, email_key = $3, email_verified = 1, updated_at = $4 WHERE id = $1")
            .bind(user_id)
            .bind(email)
            .bind(identifier_key(email))
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Deletes a user and, by cascade, their sessions, codes, grants, refresh tokens,
    /// consents and emailed links. Ids are random and never handed out again.
    pub async fn delete_account(&self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Removes an account that never proved its email and whose link has expired, or
    /// that holds `email` unproven: it must not block the address's real owner.
    pub async fn delete_unverified(&self, key_column_value: &str, now: i64, grace: i64) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "DELETE FROM users WHERE email_verified = 0 AND created_at <= $2 AND (email_key = $1 OR username_key = $1)",
        )
        .bind(key_column_value)
        .bind(now - grace)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected())
    }

    /// Counts a failed login for an identifier; returns the failures so far.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        lock_for: impl Fn(i64) -> i64,
    ) -> Result<i64, sqlx::Error> {
        // One failure is forgiven per FORGIVE_SECS without one, in the same statement that
        // counts the new one (so concurrent failures on several instances all count).
        let failures = sqlx::query_as::<_, (i64,)>(
            "INSERT INTO login_failures (identifier_key, failures, locked_until, last_failure_at) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (identifier_key) DO UPDATE SET \
               failures = CASE WHEN login_failures.failures - ($2 - login_failures.last_failure_at) / $3 > 0 \
                          THEN login_failures.failures - ($2 - login_failures.last_failure_at) / $3 ELSE 0 END + 1, \
               last_failure_at = $2 \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(FORGIVE_SECS)
        .fetch_one(self.pool())
        .await?
        .0;
        sqlx::query("UPDATE login_failures SET locked_until = $2 WHERE identifier_key = $1")
            .bind(key)
            .bind(now + lock_for(failures))
            .execute(self.pool())
            .await?;
        Ok(failures)
    }

    /// Until when logins for this identifier wait (0 when they don't).
    pub async fn login_locked_until(&self, key: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_as::<_, (i64,)>("SELECT locked_until FROM login_failures WHERE identifier_key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .map(|r| r.map(|(t,)| t).unwrap_or(0))
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE identifier_key = $1")
            .bind(key)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Deletes accounts never confirmed and created before `cutoff`: their addresses are
    /// free again, and nothing of an abandoned (or squatted) sign-up lingers.
    pub async fn purge_unconfirmed(&self, cutoff: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM users WHERE email_verified = 0 AND created_at <= $1")
            .bind(cutoff)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
    }

    /// Forgets failed-login counts whose last failure (and lock) ended before `cutoff`.
    pub async fn purge_login_failures(&self, cutoff: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE locked_until <= $1")
            .bind(cutoff)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
    }

    /// Deletes the account if it never confirmed its address; true when it did.
    pub async fn delete_if_unverified(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM users WHERE id = $1 AND email_verified = 0")
            .bind(user_id)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }

    /// Removes the password: the account signs in again only after a reset.
    pub async fn clear_password(&self, user_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = NULL, updated_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}

/// Inserts a user; `password_hash` None makes an account that signs in only through an
/// upstream until a password is set.
pub(super) async fn insert_account(
    conn: &mut sqlx::AnyConnection,
    new: &NewAccount<'_>,
    password_hash: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, username, username_key, email, email_key, email_verified, \
         given_name, family_name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(new.id)
    .bind(new.username)
    .bind(identifier_key(new.username))
    .bind(new.email)
    .bind(identifier_key(new.email))
    .bind(new.email_verified as i64)
    .bind(new.given_name)
    .bind(new.family_name)
    .bind(password_hash)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}
