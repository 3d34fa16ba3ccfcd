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
    /// Counts one more mail of kind `cap` to `recipient_key` in the current hour and
    /// returns the count, the hour starting at the first mail. One upsert: instances
    /// sharing the database count together.
    pub async fn count_mail(&self, recipient_key: &str, cap: &str, now: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "INSERT INTO mail_caps (recipient_key, cap, window_start, sent) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (recipient_key, cap) DO UPDATE SET \
               sent = CASE WHEN mail_caps.window_start <= $3 - 3600 THEN 1 ELSE mail_caps.sent + 1 END, \
               window_start = CASE WHEN mail_caps.window_start <= $3 - 3600 THEN $3 ELSE mail_caps.window_start END \
             RETURNING sent",
        )
        .bind(recipient_key)
        .bind(cap)
        .bind(now)
        .fetch_one(self.pool())
        .await
    }

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
