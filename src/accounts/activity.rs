//! "Recent security activity" on the account page: the user's own latest audit events in
//! plain words, e.g. "Signed in with password from 203.0.113.5 on 1 Dec 2026, 17:40 UTC".
//! The template escapes every value; the words here are fixed text.

use crate::audit::Action;
use crate::state::AppState;
use crate::store::audit::{AuditEventRow, AuditFilter};
use minijinja::context;

/// How many events the account page shows.
const SHOWN: i64 = 10;

/// The user's last events, newest first, ready for the template. Like writing them
/// (`crate::audit::record`), reading them never fails the page: an unreadable trail shows
/// as none, and is logged.
pub async fn recent(state: &AppState, user_id: &str) -> Vec<minijinja::Value> {
    let filter = AuditFilter {
        actor_user_id: Some(user_id.to_string()),
        limit: SHOWN,
        ..AuditFilter::default()
    };
    let events = match state.store.audit_events(&filter).await {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(error = %e, "recent audit events unreadable");
            Vec::new()
        }
    };
    events
        .iter()
        .map(|e| context! { what => describe(e), ip => e.ip, when => when(e.at), failure => e.outcome == "failure" })
        .collect()
}

fn describe(event: &AuditEventRow) -> String {
    let detail = event.detail.as_deref().unwrap_or_default();
    let client = event.client_id.as_deref().unwrap_or("an app");
    let Some(action) = Action::parse(&event.action) else {
        return event.action.replace('_', " ");
    };
    match action {
        Action::SignIn => match detail {
            "pwd" => "Signed in with password".into(),
            "hwk" => "Signed in with a passkey".into(),
            "email_link" => "Signed in by confirming your email".into(),
            "mfa:otp" => "Second step: authenticator code accepted".into(),
            "mfa:hwk" => "Second step: passkey accepted".into(),
            "mfa:recovery_code" => "Second step: recovery code used".into(),
            d if d.starts_with("fed:") => format!("Signed in with {}", &d[4..]),
            _ => "Signed in".into(),
        },
        Action::SignInFailed => match detail {
            "locked" => "Sign-in refused after too many failed attempts".into(),
            _ => "Failed sign-in attempt".into(),
        },
        Action::SecondFactorFailed => "Failed second-step attempt".into(),
        Action::SignUp => "Account created".into(),
        Action::EmailConfirmed => "Email address confirmed".into(),
        Action::PasswordChanged => "Password changed".into(),
        Action::PasswordReset => "Password reset with an email link".into(),
        Action::EmailChanged => match detail {
            "reverted" => "Email change undone from the old address".into(),
            _ => "Email address changed".into(),
        },
        Action::AccountDeleted => "Account deleted".into(),
        Action::ConsentGranted => format!("Gave {client} access"),
        Action::ConsentWithdrawn => format!("Withdrew access from {client}"),
        Action::RefreshTokenReuse => format!("A copied token of {client} was refused, and the app signed out"),
        Action::FactorAdded => "Second factor added".into(),
        Action::FactorRemoved => "Second factor removed".into(),
        Action::SessionsEnded => "Signed out other sessions".into(),
        // An administrator's change, on the administrator's own page.
        admin => admin.label().into(),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `1 Dec 2026, 17:40 UTC`.
pub fn when(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let month = usize::try_from(m - 1).ok().and_then(|i| MONTHS.get(i)).unwrap_or(&"?");
    format!("{d} {month} {y}, {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_people_write_them() {
        // 2026-12-01T17:40:00Z
        assert_eq!(when(1_796_146_800), "1 Dec 2026, 17:40 UTC");
        assert_eq!(when(0), "1 Jan 1970, 00:00 UTC");
    }
}
