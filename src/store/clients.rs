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
    grant_types: String,
    first_party: i64,
    allowed_scopes: Option<String>,
    audiences: String,
    jwks: Option<String>,
    backchannel_logout_uri: Option<String>,
    always_refresh: i64,
    access_token_ttl_secs: Option<i64>,
    refresh_idle_ttl_secs: Option<i64>,
    refresh_absolute_ttl_secs: Option<i64>,
    require_mfa: i64,
    require_par: i64,
    require_dpop: i64,
    jwks_uri: Option<String>,
    request_uris: String,
    sector_identifier_uri: Option<String>,
    pairwise_sector: Option<String>,
    logo_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    userinfo_signed_response_alg: Option<String>,
}

/// Lists are written only by this module from a Vec<String>; an unreadable value reads as
/// empty, which fails closed (no URI, grant or audience matches).
fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Client {
        Client {
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash,
            redirect_uris: list(&row.redirect_uris),
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
            require_pkce: row.require_pkce != 0,
            created_at: row.created_at,
            grant_types: list(&row.grant_types),
            first_party: row.first_party != 0,
            allowed_scopes: row.allowed_scopes.as_deref().map(list),
            audiences: list(&row.audiences),
            jwks: row.jwks,
            backchannel_logout_uri: row.backchannel_logout_uri,
            always_refresh: row.always_refresh != 0,
            access_token_ttl_secs: row.access_token_ttl_secs,
            refresh_idle_ttl_secs: row.refresh_idle_ttl_secs,
            refresh_absolute_ttl_secs: row.refresh_absolute_ttl_secs,
            require_mfa: row.require_mfa != 0,
            require_par: row.require_par != 0,
            require_dpop: row.require_dpop != 0,
            jwks_uri: row.jwks_uri,
            request_uris: list(&row.request_uris),
            sector_identifier_uri: row.sector_identifier_uri,
            pairwise_sector: row.pairwise_sector,
            logo_uri: row.logo_uri,
            policy_uri: row.policy_uri,
            tos_uri: row.tos_uri,
            userinfo_signed_response_alg: row.userinfo_signed_response_alg,
        }
    }
}

const COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, require_pkce, \
    created_at, grant_types, first_party, allowed_scopes, audiences, jwks, backchannel_logout_uri, \
    always_refresh, access_token_ttl_secs, refresh_idle_ttl_secs, refresh_absolute_ttl_secs, require_mfa, require_par, \
    require_dpop, jwks_uri, request_uris, sector_identifier_uri, pairwise_sector, logo_uri, policy_uri, tos_uri, \
    userinfo_signed_response_alg";

/// Every setting column, in the order `bind_settings` binds them after the id.
const SETTINGS: &[&str] = &[
    "name",
    "secret_hash",
    "redirect_uris",
    "post_logout_redirect_uris",
    "require_pkce",
    "grant_types",
    "first_party",
    "allowed_scopes",
    "audiences",
    "jwks",
    "backchannel_logout_uri",
    "always_refresh",
    "access_token_ttl_secs",
    "refresh_idle_ttl_secs",
    "refresh_absolute_ttl_secs",
    "require_mfa",
    "require_par",
    "require_dpop",
    "jwks_uri",
    "request_uris",
    "sector_identifier_uri",
    "pairwise_sector",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "userinfo_signed_response_alg",
];

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_settings<'q>(query: AnyQuery<'q>, client: &'q Client) -> AnyQuery<'q> {
    query
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(json(&client.redirect_uris))
        .bind(json(&client.post_logout_redirect_uris))
        .bind(client.require_pkce as i64)
        .bind(json(&client.grant_types))
        .bind(client.first_party as i64)
        .bind(client.allowed_scopes.as_deref().map(json))
        .bind(json(&client.audiences))
        .bind(&client.jwks)
        .bind(&client.backchannel_logout_uri)
        .bind(client.always_refresh as i64)
        .bind(client.access_token_ttl_secs)
        .bind(client.refresh_idle_ttl_secs)
        .bind(client.refresh_absolute_ttl_secs)
        .bind(client.require_mfa as i64)
        .bind(client.require_par as i64)
        .bind(client.require_dpop as i64)
        .bind(&client.jwks_uri)
        .bind(json(&client.request_uris))
        .bind(&client.sector_identifier_uri)
        .bind(&client.pairwise_sector)
        .bind(&client.logo_uri)
        .bind(&client.policy_uri)
        .bind(&client.tos_uri)
        .bind(&client.userinfo_signed_response_alg)
}

impl Store {
    pub async fn create_client(&self, client: &Client) -> Result<(), sqlx::Error> {
        let placeholders: Vec<String> = (1..=SETTINGS.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO clients (id, {}, created_at) VALUES ({})",
            SETTINGS.join(", "),
            placeholders.join(", ")
        );
        let mut tx = self.pool().begin().await?;
        bind_settings(sqlx::query(&sql).bind(&client.id), client)
            .bind(client.created_at)
            .execute(&mut *tx)
            .await?;
        bump_generation(&mut tx).await?;
        tx.commit().await
    }

    /// Rewrites every setting of an existing client (not its id or creation time).
    pub async fn update_client(&self, client: &Client) -> Result<bool, sqlx::Error> {
        let assignments: Vec<String> = SETTINGS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 2))
            .collect();
        let sql = format!("UPDATE clients SET {} WHERE id = $1", assignments.join(", "));
        let mut tx = self.pool().begin().await?;
        let updated = bind_settings(sqlx::query(&sql).bind(&client.id), client)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// The counter every client change moves (see [`crate::clients::ClientCache`]).
    pub async fn client_generation(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT value FROM client_generation WHERE id = 1")
            .fetch_one(self.pool())
            .await
    }

    pub async fn client(&self, id: &str) -> Result<Option<Client>, sqlx::Error> {
        sqlx::query_as::<_, ClientRow>(&format!("SELECT {COLUMNS} FROM clients WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map(|row| row.map(Client::from))
    }

    pub async fn clients(&self) -> Result<Vec<Client>, sqlx::Error> {
        sqlx::query_as::<_, ClientRow>(&format!("SELECT {COLUMNS} FROM clients ORDER BY created_at, id"))
            .fetch_all(self.pool())
            .await
            .map(|rows| rows.into_iter().map(Client::from).collect())
    }

    /// Deletes a client with its codes and grants (by cascade). Returns whether it existed.
    pub async fn delete_client(&self, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

async fn bump_generation(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE client_generation SET value = value + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map(|_| ())
}
