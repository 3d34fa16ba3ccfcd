//! The mail outbox: rows are claimed before sending, retried with backoff, and deleted once
//! delivered, so a message queued before an SMTP outage (or a restart) is still sent.

use super::Store;
use serde::{Deserialize, Serialize};

/// The single-use link a queued mail carries, issued at send time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkSpec {
    pub user_id: String,
    pub purpose: String,
    pub email: String,
    pub ttl: i64,
    pub request_id: Option<String>,
    pub browser_hash: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutgoingMail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// For a link mail: what the link's token is for ([`LinkSpec`] as JSON). The token
    /// itself is issued when the mail is sent, never stored here.
    pub link: Option<String>,
    pub attempts: i64,
    pub next_at: i64,
}

impl Store {
    pub async fn queue_mail(&self, mail: &OutgoingMail, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO mail_outbox (id, recipient, subject, body_text, body_html, link, attempts, next_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
        )
        .bind(&mail.id)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.body_text)
        .bind(&mail.body_html)
        .bind(&mail.link)
        .bind(now)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn due_mail(&self, now: i64, limit: i64) -> Result<Vec<OutgoingMail>, sqlx::Error> {
        sqlx::query_as::<_, OutgoingMail>(
            "SELECT id, recipient, subject, body_text, body_html, link, attempts, next_at FROM mail_outbox \
             WHERE next_at <= $1 ORDER BY next_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    pub async fn pending_mail_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM mail_outbox")
            .fetch_one(self.pool())
            .await
            .map(|(n,)| n)
    }
}

impl super::outbox::Queued for OutgoingMail {
    fn id(&self) -> &str {
        &self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
    fn next_at(&self) -> i64 {
        self.next_at
    }
}
