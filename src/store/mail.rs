//! The mail outbox: rows are claimed before sending, retried with backoff, and deleted once
//! delivered, so a message queued before an SMTP outage (or a restart) is still sent.

use super::Store;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutgoingMail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub attempts: i64,
    pub next_at: i64,
}

impl Store {
    pub async fn queue_mail(&self, mail: &OutgoingMail, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO mail_outbox (id, recipient, subject, body_text, body_html, attempts, next_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(&mail.id)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.body_text)
        .bind(&mail.body_html)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn due_mail(&self, now: i64, limit: i64) -> Result<Vec<OutgoingMail>, sqlx::Error> {
        sqlx::query_as::<_, OutgoingMail>(
            "SELECT id, recipient, subject, body_text, body_html, attempts, next_at FROM mail_outbox \
             WHERE next_at <= $1 ORDER BY next_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// Takes a message for `lease` seconds; false when another worker got it first.
    pub async fn claim_mail(&self, mail: &OutgoingMail, now: i64, lease: i64) -> Result<bool, sqlx::Error> {
        sqlx::query("UPDATE mail_outbox SET next_at = $3 WHERE id = $1 AND next_at = $2")
            .bind(&mail.id)
            .bind(mail.next_at)
            .bind(now + lease)
            .execute(self.pool())
            .await
            .map(|r| r.rows_affected() == 1)
    }

    pub async fn mail_sent(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM mail_outbox WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn mail_failed(&self, id: &str, attempts: i64, next_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE mail_outbox SET attempts = $2, next_at = $3 WHERE id = $1")
            .bind(id)
            .bind(attempts)
            .bind(next_at)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn pending_mail_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM mail_outbox")
            .fetch_one(self.pool())
            .await
            .map(|(n,)| n)
    }
}
