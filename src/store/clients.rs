//! Registered clients.

use super::Store;
use crate::clients::Client;

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    require_pkce: i64,
    created_at: i64,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Client {
        Client {
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash,
            // Written only by `create_client` from a Vec<String>; an unreadable value
            // means no URI matches, which fails closed.
            redirect_uris: serde_json::from_str(&row.redirect_uris).unwrap_or_default(),
            post_logout_redirect_uris: serde_json::from_str(&row.post_logout_redirect_uris)
                .unwrap_or_default(),
            require_pkce: row.require_pkce != 0,
            created_at: row.created_at,
        }
    }
}

const COLUMNS: &str =
    "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, require_pkce, created_at";

impl Store {
    pub async fn create_client(&self, client: &Client) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
             require_pkce, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&client.post_logout_redirect_uris).unwrap_or_else(|_| "[]".into()))
        .bind(client.require_pkce as i64)
        .bind(client.created_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn client(&self, id: &str) -> Result<Option<Client>, sqlx::Error> {
        sqlx::query_as::<_, ClientRow>(&format!("SELECT {COLUMNS} FROM clients WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map(|row| row.map(Client::from))
    }

    pub async fn clients(&self) -> Result<Vec<Client>, sqlx::Error> {
        sqlx::query_as::<_, ClientRow>(&format!(
            "SELECT {COLUMNS} FROM clients ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await
        .map(|rows| rows.into_iter().map(Client::from).collect())
    }

    /// Deletes a client with its codes and grants (by cascade). Returns whether it existed.
    pub async fn delete_client(&self, id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() > 0)
    }
}
