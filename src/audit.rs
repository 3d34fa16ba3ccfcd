//! The audit trail: who did what, when, from where, to what, and whether it worked.
//! Handlers call [`record`] with an [`Event`]; the action is an enum so a call site
//! cannot misspell it, and nothing in an event may be a secret, a password, a code or a
//! token (the detail names a method or an upstream, never a credential).
//!
//! Sits below the handlers: it imports only the state, the store and the configuration.

use crate::state::AppState;
use crate::store::audit::NewAuditEvent;
use axum::http::{header, HeaderMap};
use std::net::IpAddr;

/// How much of the User-Agent is kept: enough to tell browsers apart, not a place to
/// store a megabyte per sign-in.
const USER_AGENT_CHARS: usize = 256;
/// How much of a detail is kept.
const DETAIL_CHARS: usize = 200;

/// What happened. The stored names ([`Action::as_str`]) are what the console and the API
/// filter on; do not rename one without a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SecondFactorFailed,
    SignUp,
    EmailConfirmed,
    PasswordChanged,
    PasswordReset,
    EmailChanged,
    AccountDeleted,
    ConsentGranted,
    ConsentWithdrawn,
    RefreshTokenReuse,
    FactorAdded,
    FactorRemoved,
    SessionsEnded,
    AdminClientCreated,
    AdminClientUpdated,
    AdminClientSecretRotated,
    AdminClientDeleted,
    AdminKeyRotated,
    AdminKeyRetired,
    AdminUserCreated,
    AdminUserUpdated,
    AdminUserDisabled,
    AdminUserEnabled,
    AdminUserDeleted,
    AdminPasswordResetSent,
    AdminSessionsEnded,
    AdminGrantRevoked,
    AdminIdentityUnlinked,
    /// Dynamic Client Registration (RFC 7591, RFC 7592): no user acts; `client_id` and
    /// the target name the client.
    ClientRegistered,
    ClientRegistrationReplaced,
    ClientRegistrationDeleted,
}

impl Action {
    pub const ALL: [Action; 33] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::SecondFactorFailed,
        Action::SignUp,
        Action::EmailConfirmed,
        Action::PasswordChanged,
        Action::PasswordReset,
        Action::EmailChanged,
        Action::AccountDeleted,
        Action::ConsentGranted,
        Action::ConsentWithdrawn,
        Action::RefreshTokenReuse,
        Action::FactorAdded,
        Action::FactorRemoved,
        Action::SessionsEnded,
        Action::AdminClientCreated,
        Action::AdminClientUpdated,
        Action::AdminClientSecretRotated,
        Action::AdminClientDeleted,
        Action::AdminKeyRotated,
        Action::AdminKeyRetired,
        Action::AdminUserCreated,
        Action::AdminUserUpdated,
        Action::AdminUserDisabled,
        Action::AdminUserEnabled,
        Action::AdminUserDeleted,
        Action::AdminPasswordResetSent,
        Action::AdminSessionsEnded,
        Action::AdminGrantRevoked,
        Action::AdminIdentityUnlinked,
        Action::ClientRegistered,
        Action::ClientRegistrationReplaced,
        Action::ClientRegistrationDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SecondFactorFailed => "second_factor_failed",
            Action::SignUp => "sign_up",
            Action::EmailConfirmed => "email_confirmed",
            Action::PasswordChanged => "password_changed",
            Action::PasswordReset => "password_reset",
            Action::EmailChanged => "email_changed",
            Action::AccountDeleted => "account_deleted",
            Action::ConsentGranted => "consent_granted",
            Action::ConsentWithdrawn => "consent_withdrawn",
            Action::RefreshTokenReuse => "refresh_token_reuse",
            Action::FactorAdded => "factor_added",
            Action::FactorRemoved => "factor_removed",
            Action::SessionsEnded => "sessions_ended",
            Action::AdminClientCreated => "admin.client_created",
            Action::AdminClientUpdated => "admin.client_updated",
            Action::AdminClientSecretRotated => "admin.client_secret_rotated",
            Action::AdminClientDeleted => "admin.client_deleted",
            Action::AdminKeyRotated => "admin.key_rotated",
            Action::AdminKeyRetired => "admin.key_retired",
            Action::AdminUserCreated => "admin.user_created",
            Action::AdminUserUpdated => "admin.user_updated",
            Action::AdminUserDisabled => "admin.user_disabled",
            Action::AdminUserEnabled => "admin.user_enabled",
            Action::AdminUserDeleted => "admin.user_deleted",
            Action::AdminPasswordResetSent => "admin.password_reset_sent",
            Action::AdminSessionsEnded => "admin.sessions_ended",
            Action::AdminGrantRevoked => "admin.grant_revoked",
            Action::AdminIdentityUnlinked => "admin.identity_unlinked",
            Action::ClientRegistered => "client.registered",
            Action::ClientRegistrationReplaced => "client.registration_replaced",
            Action::ClientRegistrationDeleted => "client.registration_deleted",
        }
    }

    /// An administrator's change (through the admin API or the console), rather than
    /// something a user did to their own account.
    pub fn is_admin(self) -> bool {
        self.as_str().starts_with("admin.")
    }

    /// The action in a few plain words, for pages that list events.
    pub fn label(self) -> &'static str {
        match self {
            Action::SignIn => "Signed in",
            Action::SignInFailed => "Failed sign-in",
            Action::SecondFactorFailed => "Failed second step",
            Action::SignUp => "Signed up",
            Action::EmailConfirmed => "Email confirmed",
            Action::PasswordChanged => "Password changed",
            Action::PasswordReset => "Password reset",
            Action::EmailChanged => "Email changed",
            Action::AccountDeleted => "Account deleted",
            Action::ConsentGranted => "Consent given",
            Action::ConsentWithdrawn => "Consent withdrawn",
            Action::RefreshTokenReuse => "Refresh token reused",
            Action::FactorAdded => "Second factor added",
            Action::FactorRemoved => "Second factor removed",
            Action::SessionsEnded => "Other sessions ended",
            Action::AdminClientCreated => "Admin: client created",
            Action::AdminClientUpdated => "Admin: client changed",
            Action::AdminClientSecretRotated => "Admin: client secret rotated",
            Action::AdminClientDeleted => "Admin: client deleted",
            Action::AdminKeyRotated => "Admin: signing key added",
            Action::AdminKeyRetired => "Admin: signing key retired",
            Action::AdminUserCreated => "Admin: user created",
            Action::AdminUserUpdated => "Admin: user changed",
            Action::AdminUserDisabled => "Admin: user disabled",
            Action::AdminUserEnabled => "Admin: user enabled",
            Action::AdminUserDeleted => "Admin: user deleted",
            Action::AdminPasswordResetSent => "Admin: password reset sent",
            Action::AdminSessionsEnded => "Admin: sessions ended",
            Action::AdminGrantRevoked => "Admin: grant revoked",
            Action::AdminIdentityUnlinked => "Admin: identity unlinked",
            Action::ClientRegistered => "Client registered itself",
            Action::ClientRegistrationReplaced => "Client changed its registration",
            Action::ClientRegistrationDeleted => "Client deleted its registration",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Failures are the attempts that were refused; a detected token reuse is one (the
    /// request was refused and the family revoked).
    pub fn outcome(self) -> Outcome {
        match self {
            Action::SignInFailed | Action::SecondFactorFailed | Action::RefreshTokenReuse => Outcome::Failure,
            _ => Outcome::Success,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    /// Success exactly when `result` is `Ok`.
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One event, built at the call site: `Event::new(Action::SignIn).actor(&id).detail("pwd")`.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    action: Action,
    actor: Option<&'a str>,
    target: Option<&'a str>,
    client_id: Option<&'a str>,
    detail: Option<String>,
    /// Set when an action that usually succeeds was refused (an admin change that broke a
    /// rule, say); otherwise the action decides.
    outcome: Option<Outcome>,
}

impl<'a> Event<'a> {
    pub fn new(action: Action) -> Event<'a> {
        Event {
            action,
            actor: None,
            target: None,
            client_id: None,
            detail: None,
            outcome: None,
        }
    }

    /// The user who acted (or whose account was acted on, when no one is signed in).
    pub fn actor(mut self, user_id: &'a str) -> Self {
        self.actor = Some(user_id);
        self
    }

    /// As [`Event::actor`], when the actor may be unknown (an unknown username, say).
    pub fn maybe_actor(mut self, user_id: Option<&'a str>) -> Self {
        self.actor = user_id;
        self
    }

    /// The user or client acted upon.
    pub fn target(mut self, target: &'a str) -> Self {
        self.target = Some(target);
        self
    }

    pub fn client(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// As [`Event::client`], when there may be none.
    pub fn maybe_client(mut self, client_id: Option<&'a str>) -> Self {
        self.client_id = client_id;
        self
    }

    /// Records the attempt as refused.
    pub fn failed(mut self) -> Self {
        self.outcome = Some(Outcome::Failure);
        self
    }

    /// A short, non-secret note: the method (`pwd`, `otp`, `hwk`, `fed`), an upstream id.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Appends `event`, seen from `ip` with the User-Agent in `headers`.
///
/// Never fails the request it belongs to: a database error here is logged and swallowed,
/// because an audit write must not turn a successful sign-in (or a refused one) into an
/// error page. The log line carries the event, so nothing is lost silently.
pub async fn record(state: &AppState, ip: IpAddr, headers: &HeaderMap, event: Event<'_>) {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncate(ua, USER_AGENT_CHARS))
        .unwrap_or_default();
    let detail = event.detail.as_deref().map(|d| truncate(d, DETAIL_CHARS));
    let ip = ip.to_string();
    let row = NewAuditEvent {
        at: state.clock.now(),
        actor_user_id: event.actor,
        action: event.action.as_str(),
        outcome: event.outcome.unwrap_or(event.action.outcome()).as_str(),
        target: event.target,
        client_id: event.client_id,
        ip: &ip,
        user_agent: &user_agent,
        detail: detail.as_deref(),
    };
    if let Err(e) = state.store.insert_audit_event(&row).await {
        tracing::warn!(error = %e, action = row.action, user_id = ?row.actor_user_id, "audit event not recorded");
    }
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_are_unique() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("nonsense"), None);
        let names: std::collections::BTreeSet<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ééé", 2), "éé");
    }
}
