//! Users.

use super::Store;
use crate::accounts::{identifier_key, Account};

const COLUMNS: &str = "id, username, email, email_verified, given_name, family_name, password_hash, updated_at";

pub struct NewAccount<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password_hash: &'a str,
}

impl Store {
    /// Inserts a user. A duplicate username or email is a unique violation
    /// (see [`super::is_unique_violation`]): the database, not a prior lookup, decides.
    pub async fn create_account(&self, new: &NewAccount<'_>, now: i64) -> Result<(), sqlx::Error> {
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
        .bind(new.password_hash)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn account_by_id(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        sqlx::query_as::<_, Account>(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
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
}
