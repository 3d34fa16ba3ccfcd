//! Email. Messages are rendered from `templates/email/` (a text part and an HTML part),
//! queued in the database outbox, and delivered by a background worker over SMTP, or, with
//! no SMTP configured, written as `.eml` files a newcomer can open. Sending never happens
//! inside a request, so a slow or failing mail server costs the user nothing, and retries
//! survive restarts. The only module that touches lettre.

use crate::app::AppState;
use crate::config::MailSettings;
use crate::error::AppError;
use crate::outbox::{self, Policy};
use crate::secrets;
use crate::store::mail::OutgoingMail;
use crate::store::outbox::Outbox;
use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    per_recipient_per_hour: u32,
    /// Send times per recipient in the last hour (per instance), against mail bombing.
    recent: Mutex<HashMap<String, Vec<i64>>>,
}

impl Mailer {
    pub fn new(settings: &MailSettings, per_recipient_per_hour: u32) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings
            .from
            .parse()
            .with_context(|| format!("invalid `mail.from` {:?}", settings.from))?;
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("invalid `mail.smtp_url`")?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => Transport::Files(settings.file_dir.clone()),
        };
        Ok(Mailer {
            transport,
            from,
            per_recipient_per_hour,
            recent: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a message to `to`; false when the recipient has had their hourly share.
    fn admit(&self, to: &str, now: i64) -> bool {
        let Ok(mut recent) = self.recent.lock() else {
            return true;
        };
        let times = recent.entry(to.to_lowercase()).or_default();
        times.retain(|t| now - t < 3600);
        if times.len() >= self.per_recipient_per_hour as usize {
            return false;
        }
        times.push(now);
        true
    }
}

/// Renders `template` for `to` and queues it. Over the per-recipient cap the message is
/// dropped silently: the response the user sees must not change.
pub async fn send(state: &AppState, to: &str, template: &str, ctx: minijinja::Value) -> Result<(), AppError> {
    let now = state.clock.now();
    if !state.mailer.admit(to, now) {
        tracing::warn!(template, "mail to this recipient capped for the hour; dropped");
        return Ok(());
    }
    let (subject, body_text, body_html) = state.pages.email(template, ctx)?;
    let mail = OutgoingMail {
        id: secrets::random_id(),
        recipient: to.to_string(),
        subject,
        body_text,
        body_html,
        attempts: 0,
        next_at: now,
    };
    state.store.queue_mail(&mail, now).await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// Runs forever: delivers due messages, waking when new ones are queued.
pub async fn worker(state: AppState) {
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "mail delivery pass failed");
        }
        tokio::select! {
            _ = state.mail_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

const POLICY: Policy = Policy {
    outbox: Outbox::Mail,
    what: "mail",
    max_attempts: 12,
    base_backoff_secs: 15,
    max_backoff_secs: 3600,
    lease_secs: 60,
};

async fn deliver_due(state: &AppState) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    let due = state.store.due_mail(now, 20).await?;
    outbox::deliver(&state.store, &POLICY, due, now, |mail| async move {
        deliver(&state.mailer, &mail).await
    })
    .await
}

async fn deliver(mailer: &Mailer, mail: &OutgoingMail) -> anyhow::Result<()> {
    let to: Mailbox = mail.recipient.parse().context("invalid recipient")?;
    let message = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(&mail.subject)
        .multipart(MultiPart::alternative_plain_html(
            mail.body_text.clone(),
            mail.body_html.clone(),
        ))
        .context("cannot build the message")?;
    match &mailer.transport {
        Transport::Smtp(smtp) => {
            smtp.send(message).await.context("SMTP delivery failed")?;
        }
        Transport::Files(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .context("cannot create the mail directory")?;
            let path = dir.join(format!("{}-{}.eml", mail.next_at, mail.id));
            tokio::fs::write(&path, message.formatted())
                .await
                .context("cannot write the message")?;
            tracing::info!(path = %path.display(), "email written to a file (no SMTP configured)");
        }
    }
    Ok(())
}
