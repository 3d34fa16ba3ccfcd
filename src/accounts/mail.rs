//! What the account pages email, and under which cap: link mails (confirm, reset, email
//! change) and mails anyone can trigger for an address count against the per-recipient
//! link cap; notices to an account's owner about its own security have a cap of their
//! own, so spending the link share cannot silence them. A capped mail is dropped
//! silently (the page the user sees must not change), and it is checked before anything
//! else happens, so a capped resend leaves the link already sent alive.

use crate::error::AppError;
use crate::mail::{self, Cap, LINK_TOKEN_SLOT};
use crate::secrets;
use crate::state::AppState;
use crate::store::mail::{LinkSpec, OutgoingMail};
use minijinja::context;

/// A single-use link to email.
pub struct Link<'a> {
    pub user_id: &'a str,
    pub name: &'a str,
    pub to: &'a str,
    /// What the link does: `confirm`, `reset`, `email_change`.
    pub purpose: &'a str,
    /// Where it points on Gatehouse.
    pub path: &'a str,
    pub ttl: i64,
    pub request_id: Option<&'a str>,
    /// Digest of a value only the browser that asked holds (see `sessions::browser_binding`).
    pub browser_hash: Option<&'a str>,
    pub template: &'a str,
    pub label: &'a str,
}

/// Emails a single-use link. Its token is issued when the mail is sent, replacing the
/// user's earlier link for the same purpose; over the cap nothing happens at all.
pub async fn link(state: &AppState, link: Link<'_>, extra: minijinja::Value) -> Result<(), AppError> {
    let (spec, ctx) = link_mail(state, &link, extra);
    queue(state, Cap::Links, link.to, link.template, ctx, Some(spec)).await
}

/// A single-use link inside a notice about the account's own security (undoing an email
/// change): it counts against the notices' cap, never the links'.
pub async fn link_in_notice(state: &AppState, link: Link<'_>, extra: minijinja::Value) -> Result<(), AppError> {
    let (spec, ctx) = link_mail(state, &link, extra);
    queue(state, Cap::Notices, link.to, link.template, ctx, Some(spec)).await
}

fn link_mail(state: &AppState, link: &Link<'_>, extra: minijinja::Value) -> (LinkSpec, minijinja::Value) {
    let spec = LinkSpec {
        user_id: link.user_id.to_string(),
        purpose: link.purpose.to_string(),
        email: link.to.to_string(),
        ttl: link.ttl,
        request_id: link.request_id.map(str::to_string),
        browser_hash: link.browser_hash.map(str::to_string),
    };
    // Links are built from the configured issuer only, never from the request's Host.
    let url = format!("{}?token={LINK_TOKEN_SLOT}", state.config.url_for(link.path));
    let ctx = context! { name => link.name, link => url, link_label => link.label, ..extra };
    (spec, ctx)
}

/// A mail that anyone can cause for an address (such as "you already have an account"):
/// it counts against the link cap.
pub async fn unsolicited(state: &AppState, to: &str, template: &str, ctx: minijinja::Value) -> Result<(), AppError> {
    queue(state, Cap::Links, to, template, ctx, None).await
}

/// A notice to an account's owner about a change to the account's own security.
pub async fn notice(state: &AppState, to: &str, template: &str, ctx: minijinja::Value) -> Result<(), AppError> {
    queue(state, Cap::Notices, to, template, ctx, None).await
}

async fn queue(
    state: &AppState,
    cap: Cap,
    to: &str,
    template: &str,
    ctx: minijinja::Value,
    link: Option<LinkSpec>,
) -> Result<(), AppError> {
    let now = state.clock.now();
    if !state.mailer.admit(&state.store, cap, to, now).await? {
        tracing::warn!(template, ?cap, "mail to this recipient capped for the hour; dropped");
        return Ok(());
    }
    let (subject, body_text, body_html) = state.pages.email(template, ctx)?;
    let link = link
        .map(|spec| serde_json::to_string(&spec))
        .transpose()
        .map_err(|e| AppError::Internal(e.into()))?;
    let mail = OutgoingMail {
        id: secrets::random_id(),
        recipient: to.to_string(),
        subject,
        body_text,
        body_html,
        link,
        attempts: 0,
        next_at: now,
    };
    mail::queue(&state.store, &state.mailer, mail, now).await?;
    Ok(())
}
