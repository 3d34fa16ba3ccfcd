//! Email delivery. Messages wait in the database outbox and a background worker delivers
//! them over SMTP, or, with no SMTP configured, writes them as `.eml` files for
//! development. Sending never happens inside a request, so a slow or failing mail server
//! costs the user nothing, and retries survive restarts. A link mail's token is made as
//! it is sent and stored once the mail is accepted, so the outbox never holds a live
//! link and a mail that fails leaves the user's earlier link working. Per-recipient caps (one
//! for link mails, a separate and higher one for security notices) keep us from being
//! used to bomb an inbox. The only module that touches lettre.

use crate::clock::Clock;
use crate::config::MailSettings;
use crate::outbox::{self, Policy};
use crate::secrets;
use crate::store::email_tokens::NewEmailToken;
use crate::store::mail::{LinkSpec, OutgoingMail};
use crate::store::outbox::Outbox;
use crate::store::Store;
use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Stands in a queued link mail's body where the token goes; replaced at send time.
pub const LINK_TOKEN_SLOT: &str = "GATEHOUSE_LINK_TOKEN_SLOT";

/// Security notices about an account ("your password was changed") get their own cap,
/// far above the link cap, so spending a victim's link share cannot silence them.
pub const NOTICES_PER_RECIPIENT_PER_HOUR: u32 = 30;

/// Which per-recipient cap a message counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cap {
    /// Mails anyone can trigger for an address: confirm, reset, email change, "already registered".
    Links,
    /// Notices to an account's owner after a change made with its password or session.
    Notices,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    links_per_hour: u32,
    /// Wakes the worker when a message is queued.
    wake: Notify,
}

impl Mailer {
    pub fn new(settings: &MailSettings, links_per_hour: u32) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings
            .from
            .parse()
            .with_context(|| format!("invalid `mail.from` {:?}", settings.from))?;
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("invalid `mail.smtp_url`")?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => {
                tracing::warn!(
                    dir = %settings.file_dir.display(),
                    "no mail.smtp_url: emails are written as .eml files, links included; for development only"
                );
                Transport::Files(settings.file_dir.clone())
            }
        };
        Ok(Mailer {
            transport,
            from,
            links_per_hour,
            wake: Notify::new(),
        })
    }

    /// Counts a message to `to` against `cap`; false when the recipient has had their
    /// hourly share of that kind. Counted in the database, so the cap holds across
    /// instances and restarts.
    pub async fn admit(&self, store: &Store, cap: Cap, to: &str, now: i64) -> Result<bool, sqlx::Error> {
        let (name, limit) = match cap {
            Cap::Links => ("links", self.links_per_hour),
            Cap::Notices => ("notices", NOTICES_PER_RECIPIENT_PER_HOUR),
        };
        let sent = store.count_mail(&crate::users::identifier_key(to), name, now).await?;
        Ok(sent <= i64::from(limit))
    }
}

/// Queues a rendered message (already admitted under its cap) and wakes the worker.
pub async fn queue(store: &Store, mailer: &Mailer, mail: OutgoingMail, now: i64) -> Result<(), sqlx::Error> {
    store.queue_mail(&mail, now).await?;
    mailer.wake.notify_one();
    Ok(())
}

/// Runs forever: delivers due messages, waking when new ones are queued.
pub async fn worker(store: Store, mailer: Arc<Mailer>, clock: Clock, failures: prometheus::IntCounterVec) {
    loop {
        match deliver_due(&store, &mailer, &clock).await {
            Ok(failed) => crate::metrics::count_failures(&failures, "mail", failed),
            Err(e) => tracing::warn!(error = %e, "mail delivery pass failed"),
        }
        tokio::select! {
            _ = mailer.wake.notified() => {}
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

async fn deliver_due(store: &Store, mailer: &Mailer, clock: &Clock) -> Result<outbox::Failures, sqlx::Error> {
    let now = clock.now();
    let due = store.due_mail(now, 20).await?;
    outbox::deliver(store, &POLICY, due, clock, |mail| async move {
        let (mail, link) = with_link(mail)?;
        deliver(mailer, &mail).await?;
        if let Some(link) = link {
            // Only a mail that went out replaces the user's earlier link: one that failed
            // leaves the link they already hold working. If this write fails the mail is
            // retried, and the next one carries a link that works.
            link.issue(store, now).await?;
        }
        Ok(())
    })
    .await
}

/// The token a link mail carries, to be stored once the mail is accepted.
struct IssuedLink {
    spec: LinkSpec,
    token_hash: String,
}

impl IssuedLink {
    async fn issue(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        let spec = &self.spec;
        let new = NewEmailToken {
            token_hash: &self.token_hash,
            user_id: &spec.user_id,
            purpose: &spec.purpose,
            email: &spec.email,
            request_id: spec.request_id.as_deref(),
            browser_hash: spec.browser_hash.as_deref(),
            ttl: spec.ttl,
        };
        store
            .issue_email_token(&new, now)
            .await
            .context("cannot store the link's token")
    }
}

/// For a link mail, makes its token and puts it in the body's slot; the token is stored
/// (replacing the user's earlier link for the same purpose) only once the mail is sent.
fn with_link(mut mail: OutgoingMail) -> anyhow::Result<(OutgoingMail, Option<IssuedLink>)> {
    let Some(spec) = mail.link.take() else {
        return Ok((mail, None));
    };
    let spec: LinkSpec = serde_json::from_str(&spec).context("unreadable link in the outbox")?;
    let token = secrets::random_token();
    mail.body_text = mail.body_text.replace(LINK_TOKEN_SLOT, &token);
    mail.body_html = mail.body_html.replace(LINK_TOKEN_SLOT, &token);
    let token_hash = secrets::digest(&token);
    Ok((mail, Some(IssuedLink { spec, token_hash })))
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
