//! Grants: what a user allowed a client through one sign-in. Access and refresh tokens
//! point at their grant; revoking it (code replay, refresh reuse, logout, consent
//! withdrawn) stops every one of them at once.

use super::Store;
use sqlx::{Any, Transaction};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub scope: String,
    pub auth_time: i64,
    pub revoked_at: Option<i64>,
    pub refresh_expires_at: Option<i64>,
    /// The `claims` request of the authorization that created it.
    pub claims: Option<String>,
    pub acr: String,
    pub amr: String,
    pub idp: Option<String>,
    /// The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub scope: &'a str,
    pub auth_time: i64,
    /// The absolute end of its refresh tokens, when it has any.
    pub refresh_expires_at: Option<i64>,
    pub claims: Option<&'a str>,
    pub acr: &'a str,
    pub amr: &'a str,
    pub idp: Option<&'a str>,
    pub dpop_jkt: Option<&'a str>,
}

const COLUMNS: &str = "id, client_id, user_id, session_id, scope, auth_time, revoked_at, refresh_expires_at, \
                       claims, acr, amr, idp, dpop_jkt";

impl Store {
    pub async fn insert_grant(
        tx: &mut Transaction<'static, Any>,
        grant: &NewGrant<'_>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO grants (id, client_id, user_id, session_id, scope, auth_time, created_at, \
             refresh_expires_at, claims, acr, amr, idp, dpop_jkt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(grant.id)
        .bind(grant.client_id)
        .bind(grant.user_id)
        .bind(grant.session_id)
        .bind(grant.scope)
        .bind(grant.auth_time)
        .bind(now)
        .bind(grant.refresh_expires_at)
        .bind(grant.claims)
        .bind(grant.acr)
        .bind(grant.amr)
        .bind(grant.idp)
        .bind(grant.dpop_jkt)
        .execute(&mut **tx)
        .await
        .map(|_| ())
    }

    pub async fn grant_in(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Option<GrantRow>, sqlx::Error> {
        sqlx::query_as::<_, GrantRow>(&format!("SELECT {COLUMNS} FROM grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRow>, sqlx::Error> {
        sqlx::query_as::<_, GrantRow>(&format!("SELECT {COLUMNS} FROM grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// The user's grants not revoked, newest sign-in first.
    pub async fn user_grants(&self, user_id: &str) -> Result<Vec<GrantRow>, sqlx::Error> {
        sqlx::query_as::<_, GrantRow>(&format!(
            "SELECT {COLUMNS} FROM grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY auth_time DESC, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Revokes a grant; tokens that point at it stop working at once.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Revokes the grants made in a browser session that ended, except those whose refresh
    /// tokens were asked for offline use: offline access outlives the session by design
    /// (OIDC Core §11). Returns the client ids whose grants were revoked.
    pub async fn revoke_session_grants(&self, session_id: &str, now: i64) -> Result<Vec<String>, sqlx::Error> {
        let mut conn = self.pool().acquire().await?;
        revoke_session_grants_on(&mut conn, session_id, now).await
    }

    pub async fn revoke_session_grants_in(
        tx: &mut Transaction<'static, Any>,
        session_id: &str,
        now: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        revoke_session_grants_on(tx, session_id, now).await
    }

    /// Revokes every live grant of a user to a client (consent withdrawn).
    pub async fn revoke_client_grants(&self, user_id: &str, client_id: &str, now: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("UPDATE grants SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(client_id)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
    }

    /// Clients that hold grants made in this session, for back-channel logout.
    pub async fn session_clients_in(
        tx: &mut Transaction<'static, Any>,
        session_id: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_as::<_, (String,)>("SELECT DISTINCT client_id FROM grants WHERE session_id = $1")
            .bind(session_id)
            .fetch_all(&mut **tx)
            .await
            .map(|rows| rows.into_iter().map(|(c,)| c).collect())
    }

    /// Revokes every grant of a user: after a password reset nothing issued before stays.
    pub async fn revoke_user_grants(&self, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
        sqlx::query("UPDATE grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected())
    }

    /// Revokes the user's live offline-access grants, except those made in `keep_session`:
    /// what "sign out everywhere else" and a password change cut off. Returns how many.
    pub async fn revoke_offline_grants(
        &self,
        user_id: &str,
        keep_session: Option<&str>,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "UPDATE grants SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
             AND (session_id IS NULL OR session_id <> $2) AND (' ' || scope || ' ') LIKE '% offline_access %'",
        )
        .bind(user_id)
        .bind(keep_session.unwrap_or_default())
        .bind(now)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected())
    }

    /// (client_id, client name) of every app holding live offline access for the user,
    /// first-party apps included.
    pub async fn offline_apps(&self, user_id: &str, now: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as::<_, (String, String)>(
            "SELECT DISTINCT g.client_id, k.name FROM grants g JOIN clients k ON k.id = g.client_id \
             WHERE g.user_id = $1 AND g.revoked_at IS NULL \
             AND (g.refresh_expires_at IS NULL OR g.refresh_expires_at > $2) \
             AND (' ' || g.scope || ' ') LIKE '% offline_access %' ORDER BY k.name",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(self.pool())
        .await
    }
}

/// One UPDATE, so no grant can slip between finding and revoking; offline access (a
/// grant whose scope has `offline_access`) outlives the session.
async fn revoke_session_grants_on(
    conn: &mut sqlx::AnyConnection,
    session_id: &str,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut clients: Vec<String> = sqlx::query_scalar(
        "UPDATE grants SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL \
         AND (' ' || scope || ' ') NOT LIKE '% offline_access %' RETURNING client_id",
    )
    .bind(session_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    clients.sort();
    clients.dedup();
    Ok(clients)
}
