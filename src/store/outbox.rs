//! What the two outboxes (mail, back-channel logout) share in the database: a due row is
//! claimed by moving its `next_at` forward to the end of a lease taken at claim time (so
//! instances sharing the database never hold it at once), then deleted when delivered or
//! rescheduled when not, both only while the lease is still this worker's.

use super::Store;

/// A queued row, as the delivery loop sees it.
pub trait Queued {
    fn id(&self) -> &str;
    fn attempts(&self) -> i64;
    fn next_at(&self) -> i64;
}

#[derive(Debug, Clone, Copy)]
pub enum Outbox {
    Mail,
    Logout,
}

impl Outbox {
    fn table(self) -> &'static str {
        match self {
            Outbox::Mail => "mail_outbox",
            Outbox::Logout => "logout_deliveries",
        }
    }
}

impl Store {
    /// Takes a row that is due at `now` (and so not under anyone's lease) until `until`.
    /// Returns its attempts so far, or None when it is not due (another worker holds it,
    /// or it is gone). One UPDATE: of racing workers exactly one gets the row.
    pub async fn claim(&self, outbox: Outbox, id: &str, now: i64, until: i64) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(&format!(
            "UPDATE {} SET next_at = $3 WHERE id = $1 AND next_at <= $2 RETURNING attempts",
            outbox.table()
        ))
        .bind(id)
        .bind(now)
        .bind(until)
        .fetch_optional(self.pool())
        .await
    }

    /// Removes a row held under the lease ending `lease`: delivered, or given up on.
    pub async fn finish(&self, outbox: Outbox, id: &str, lease: i64) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE id = $1 AND next_at = $2",
            outbox.table()
        ))
        .bind(id)
        .bind(lease)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn reschedule(
        &self,
        outbox: Outbox,
        id: &str,
        lease: i64,
        attempts: i64,
        next_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE {} SET attempts = $2, next_at = $3 WHERE id = $1 AND next_at = $4",
            outbox.table()
        ))
        .bind(id)
        .bind(attempts)
        .bind(next_at)
        .bind(lease)
        .execute(self.pool())
        .await
        .map(|_| ())
    }
}
