//! Dynamically registered clients' registration access tokens, and the initial access
//! tokens that gate registration (RFC 7591, RFC 7592). Only digests are stored.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistrationRow {
    pub client_id: String,
    pub token_endpoint_auth_method: String,
}

impl Store {
    pub async fn create_registration(
        &self,
        client_id: &str,
        token_hash: &str,
        method: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO client_registrations (client_id, token_hash, token_endpoint_auth_method, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(client_id)
        .bind(token_hash)
        .bind(method)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// The registration a registration access token opens.
    pub async fn registration_by_token(&self, token_hash: &str) -> Result<Option<RegistrationRow>, sqlx::Error> {
        sqlx::query_as::<_, RegistrationRow>(
            "SELECT client_id, token_endpoint_auth_method FROM client_registrations WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn set_registered_auth_method(&self, client_id: &str, method: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE client_registrations SET token_endpoint_auth_method = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(method)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn create_initial_access_token(
        &self,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO initial_access_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn initial_access_token_valid(&self, token_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT token_hash FROM initial_access_tokens WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(now)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }
}
