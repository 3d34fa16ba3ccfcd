//! What the two outboxes (mail, back-channel logout) share in the database: a due row is
//! claimed by moving its `next_at` forward (a lease, so instances sharing the database do
//! not send it twice at once), then deleted when delivered or rescheduled when not.

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
    /// Takes a row until `until`; false when another worker got it first.
    pub async fn claim(&self, outbox: Outbox, id: &str, seen_next_at: i64, until: i64) -> Result<bool, sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE {} SET next_at = $3 WHERE id = $1 AND next_at = $2",
            outbox.table()
        ))
        .bind(id)
        .bind(seen_next_at)
        .bind(until)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
    }

    /// Removes a row: delivered, or given up on.
    pub async fn finish(&self, outbox: Outbox, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!("DELETE FROM {} WHERE id = $1", outbox.table()))
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn reschedule(&self, outbox: Outbox, id: &str, attempts: i64, next_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE {} SET attempts = $2, next_at = $3 WHERE id = $1",
            outbox.table()
        ))
        .bind(id)
        .bind(attempts)
        .bind(next_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }
}
