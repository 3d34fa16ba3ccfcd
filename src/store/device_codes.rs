//! Device authorization requests (RFC 8628). Every change of state is one conditional
//! UPDATE, so a user code is approved once and a device code redeemed once, whichever
//! instance each request reaches.

use super::Store;
use sqlx::{Any, Transaction};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceCodeRow {
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub interval_secs: i64,
    pub last_polled_at: i64,
    pub status: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<i64>,
    pub amr: Option<String>,
    pub idp: Option<String>,
}

const COLUMNS: &str = "device_code_hash, user_code, client_id, scope, created_at, expires_at, interval_secs, \
    last_polled_at, status, user_id, session_id, auth_time, amr, idp";

/// Who approved a device, from their session.
pub struct Approval<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub auth_time: i64,
    pub amr: &'a str,
    pub idp: Option<&'a str>,
}

impl Store {
    pub async fn create_device_code(&self, row: &DeviceCodeRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, created_at, expires_at, \
             interval_secs) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.device_code_hash)
        .bind(&row.user_code)
        .bind(&row.client_id)
        .bind(&row.scope)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.interval_secs)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn device_code(&self, hash: &str) -> Result<Option<DeviceCodeRow>, sqlx::Error> {
        sqlx::query_as::<_, DeviceCodeRow>(&format!(
            "SELECT {COLUMNS} FROM device_codes WHERE device_code_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.pool())
        .await
    }

    /// A live request still waiting for its user, by the code they typed.
    pub async fn pending_device_request(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRow>, sqlx::Error> {
        sqlx::query_as::<_, DeviceCodeRow>(&format!(
            "SELECT {COLUMNS} FROM device_codes WHERE user_code = $1 AND status = 'pending' AND expires_at > $2"
        ))
        .bind(user_code)
        .bind(now)
        .fetch_optional(self.pool())
        .await
    }

    /// Approves a waiting request; false when it was decided, or expired, first.
    pub async fn approve_device(&self, user_code: &str, who: &Approval<'_>, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "UPDATE device_codes SET status = 'approved', user_id = $2, session_id = $3, auth_time = $4, amr = $5, \
             idp = $6 WHERE user_code = $1 AND status = 'pending' AND expires_at > $7",
        )
        .bind(user_code)
        .bind(who.user_id)
        .bind(who.session_id)
        .bind(who.auth_time)
        .bind(who.amr)
        .bind(who.idp)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }

    pub async fn deny_device(&self, user_code: &str, now: i64) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "UPDATE device_codes SET status = 'denied' WHERE user_code = $1 AND status = 'pending' AND expires_at > $2",
        )
        .bind(user_code)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }

    /// Records a poll: `interval` is the interval the device must keep from now on.
    pub async fn device_polled(&self, hash: &str, now: i64, interval: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE device_codes SET last_polled_at = $2, interval_secs = $3 WHERE device_code_hash = $1")
            .bind(hash)
            .bind(now)
            .bind(interval)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Spends an approved request for its tokens, inside the transaction that makes them.
    pub async fn redeem_device_code(
        tx: &mut Transaction<'static, Any>,
        hash: &str,
        grant_id: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query(
            "UPDATE device_codes SET status = 'used', grant_id = $2 WHERE device_code_hash = $1 AND status = 'approved'",
        )
        .bind(hash)
        .bind(grant_id)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected() == 1)
    }
}
