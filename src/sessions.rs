//! Browser sessions and CSRF protection.
//!
//! The session cookie carries 256 random bits; the database keeps only their digest, so
//! a copy of the database cannot be replayed as cookies. Cookies are HttpOnly,
//! SameSite=Lax (Lax, not Strict, so a relying party's top-level redirect to /authorize
//! still carries the session), and Secure with the `__Host-` prefix when the issuer is
//! https. Forms carry a CSRF token: the session's own for signed-in forms, and for the
//! login form a double-submit value bound to a separate cookie. Every POST also passes an
//! Origin / Sec-Fetch-Site check.

use crate::config::Config;
use crate::cookies;
use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::sessions::SessionRow;
use crate::store::Store;
use axum::http::{header, HeaderMap, HeaderValue};

const SESSION_COOKIE: &str = "gatehouse_session";
const CSRF_COOKIE: &str = "gatehouse_csrf";

/// Don't write `last_seen_at` more often than this: the idle timeout is days, not seconds.
const TOUCH_INTERVAL_SECS: i64 = 60;

pub(crate) fn cookie_name(config: &Config, base: &str) -> String {
    if config.is_https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

pub fn session_cookie_name(config: &Config) -> String {
    cookie_name(config, SESSION_COOKIE)
}

/// A `Set-Cookie` value for our session-wide cookies: Path=/, SameSite=Lax, Secure on
/// https. `max_age` None makes a browser-session cookie; Some(0) deletes it.
fn set_cookie(config: &Config, name: &str, value: &str, max_age: Option<i64>) -> Result<HeaderValue, AppError> {
    let scope = cookies::Scope {
        path: "/",
        same_site: cookies::SameSite::Lax,
        secure: config.is_https(),
    };
    cookies::set(name, value, &scope, max_age)
}

/// The live session of this browser, if any.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionRow>, AppError> {
    let Some(cookie) = cookies::read(headers, &session_cookie_name(&state.config)) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let session = state
        .store
        .session_by_cookie(&secrets::digest(&cookie), now, state.config.sessions.idle_ttl_secs)
        .await?;
    if let Some(s) = &session {
        if now - s.last_seen_at >= TOUCH_INTERVAL_SECS {
            state.store.touch_session(&s.id, now).await?;
        }
    }
    Ok(session)
}

/// The first factor of a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First<'a> {
    Password,
    /// Through an upstream; `mfa` when the operator trusts its `amr` and it said `mfa`.
    Upstream {
        id: &'a str,
        mfa: bool,
    },
    /// A passkey alone, with user verification: possession and a PIN or biometric.
    Passkey,
}

/// A second factor, after a first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    Totp,
    RecoveryCode,
    Passkey,
}

/// How a sign-in was made, as the session keeps it and the tokens say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn<'a> {
    pub first: First<'a>,
    pub second: Option<Second>,
}

impl<'a> SignIn<'a> {
    pub fn one(first: First<'a>) -> SignIn<'a> {
        SignIn { first, second: None }
    }

    /// The RFC 8176 `amr` values, space-separated as the session column holds them. A
    /// passkey says `hwk`: without attestation a synced passkey and a security key look
    /// alike, and both keep the private key out of the page's reach.
    pub fn amr(&self) -> String {
        let mut amr: Vec<&str> = match self.first {
            First::Password => vec![AMR_PASSWORD],
            First::Upstream { mfa: false, .. } => vec![AMR_FEDERATED],
            First::Upstream { mfa: true, .. } => vec![AMR_FEDERATED, AMR_MFA],
            First::Passkey => vec![AMR_HARDWARE_KEY, AMR_USER, AMR_MFA],
        };
        if let Some(second) = self.second {
            amr.push(match second {
                Second::Totp | Second::RecoveryCode => AMR_OTP,
                Second::Passkey => AMR_HARDWARE_KEY,
            });
            if !amr.contains(&AMR_MFA) {
                amr.push(AMR_MFA);
            }
        }
        amr.join(" ")
    }

    pub fn idp(&self) -> Option<&'a str> {
        match self.first {
            First::Upstream { id, .. } => Some(id),
            _ => None,
        }
    }
}

pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_FEDERATED: &str = "fed";
pub const AMR_OTP: &str = "otp";
pub const AMR_HARDWARE_KEY: &str = "hwk";
pub const AMR_USER: &str = "user";
pub const AMR_MFA: &str = "mfa";

/// A session's `amr` after it also proved `second` (an enrolment's first use): the factor,
/// and `mfa`, added once each.
pub fn raised_amr(current: &str, second: Second) -> String {
    let mut amr: Vec<&str> = current.split(' ').filter(|a| !a.is_empty()).collect();
    let added = match second {
        Second::Totp | Second::RecoveryCode => AMR_OTP,
        Second::Passkey => AMR_HARDWARE_KEY,
    };
    for value in [added, AMR_MFA] {
        if !amr.contains(&value) {
            amr.push(value);
        }
    }
    amr.join(" ")
}

/// Whether a session's `amr` column holds `value`.
pub fn has_amr(session: &SessionRow, value: &str) -> bool {
    session.amr.split(' ').any(|a| a == value)
}

/// Starts a new session for `user_id` after a successful login, ending the browser's
/// previous one (a fixed or stolen pre-login id is worthless afterwards). Returns the
/// session and its Set-Cookie header.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    sign_in: &SignIn<'_>,
) -> Result<(SessionRow, HeaderValue), AppError> {
    let name = session_cookie_name(&state.config);
    if let Some(old) = cookies::read(headers, &name) {
        // The browser's previous session ends like any other: its apps' tokens with it.
        if let Some(previous) = state.store.delete_session_by_cookie(&secrets::digest(&old)).await? {
            ended(state, &[previous]).await?;
        }
    }
    let now = state.clock.now();
    let cookie = secrets::random_token();
    let row = SessionRow {
        id: secrets::random_id(),
        user_id: user_id.to_string(),
        csrf_token: secrets::random_token(),
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.config.sessions.absolute_ttl_secs,
        amr: sign_in.amr(),
        idp: sign_in.idp().map(str::to_string),
    };
    state.store.create_session(&row, &secrets::digest(&cookie)).await?;
    let set = set_cookie(&state.config, &name, &cookie, None)?;
    Ok((row, set))
}

/// Ends this browser's session. Returns the Set-Cookie header that clears the cookie.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, AppError> {
    let name = session_cookie_name(&state.config);
    if let Some(cookie) = cookies::read(headers, &name) {
        let _ = state.store.delete_session_by_cookie(&secrets::digest(&cookie)).await?;
    }
    set_cookie(&state.config, &name, "", Some(0))
}

/// What follows the end of sessions, however they ended (logout, re-login, timeout,
/// password change, "sign out everywhere", account deletion): their grants are revoked,
/// except offline access, and their clients get back-channel logout tokens.
pub async fn ended(state: &AppState, sessions: &[SessionRow]) -> Result<(), AppError> {
    let mut tx = state.store.begin().await?;
    ended_in(state, &mut tx, sessions).await?;
    tx.commit().await?;
    state.backchannel_wake.notify_one();
    Ok(())
}

/// As [`ended`], inside the caller's transaction (the one that deleted the sessions, so
/// that their revocations and logout notices commit with the deletion or not at all).
pub async fn ended_in(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    sessions: &[SessionRow],
) -> Result<(), AppError> {
    let now = state.clock.now();
    for session in sessions {
        Store::revoke_session_grants_in(tx, &session.id, now).await?;
        crate::oauth::backchannel::queue_in(state, tx, session, now).await?;
    }
    Ok(())
}

/// The CSRF token for a form shown to a visitor who may not be signed in, and the cookie to
/// set when the browser has none yet (double-submit).
pub fn anonymous_csrf(config: &Config, headers: &HeaderMap) -> Result<(String, Option<HeaderValue>), AppError> {
    let name = cookie_name(config, CSRF_COOKIE);
    match cookies::read(headers, &name).filter(|t| secrets::is_token(t)) {
        Some(token) => Ok((token, None)),
        None => {
            let token = secrets::random_token();
            let set = set_cookie(config, &name, &token, None)?;
            Ok((token, Some(set)))
        }
    }
}

/// A digest of this browser's anonymous CSRF cookie: binds an emailed link to the browser
/// that asked for it.
pub fn browser_binding(config: &Config, headers: &HeaderMap) -> Option<String> {
    cookies::read(headers, &cookie_name(config, CSRF_COOKIE)).map(|v| secrets::digest(&v))
}

/// Checks a submitted anonymous-form CSRF token against the cookie.
pub fn anonymous_csrf_ok(config: &Config, headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookies::read(headers, &cookie_name(config, CSRF_COOKIE)), submitted) {
        (Some(expected), Some(submitted)) => secrets::constant_time_eq(&expected, submitted),
        _ => false,
    }
}

/// Refuses cross-site form posts: `Sec-Fetch-Site` must be same-origin (or none, for a
/// user-typed navigation) and `Origin`, when sent, must be our issuer's origin. Under our
/// `Referrer-Policy: no-referrer` browsers send `Origin: null` even on same-site posts, so
/// `null` counts when the browser itself vouches with `Sec-Fetch-Site: same-origin`.
pub fn same_origin(config: &Config, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let fetch_site_ok = fetch_site.is_none_or(|v| v == "same-origin" || v == "none");
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|origin| {
            origin == config.issuer.origin().ascii_serialization()
                || (origin == "null" && fetch_site == Some("same-origin"))
        });
    fetch_site_ok && origin_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn amr_lists_each_factor_once_and_mfa_for_two() {
        let corp = First::Upstream { id: "corp", mfa: false };
        let trusted = First::Upstream { id: "corp", mfa: true };
        let cases = [
            (SignIn::one(First::Password), "pwd"),
            (SignIn::one(corp), "fed"),
            (SignIn::one(trusted), "fed mfa"),
            (SignIn::one(First::Passkey), "hwk user mfa"),
            (
                SignIn {
                    first: First::Password,
                    second: Some(Second::Totp),
                },
                "pwd otp mfa",
            ),
            (
                SignIn {
                    first: First::Password,
                    second: Some(Second::RecoveryCode),
                },
                "pwd otp mfa",
            ),
            (
                SignIn {
                    first: First::Password,
                    second: Some(Second::Passkey),
                },
                "pwd hwk mfa",
            ),
            (
                SignIn {
                    first: corp,
                    second: Some(Second::Totp),
                },
                "fed otp mfa",
            ),
        ];
        for (sign_in, amr) in cases {
            assert_eq!(sign_in.amr(), amr, "{sign_in:?}");
        }
        assert_eq!(SignIn::one(corp).idp(), Some("corp"));
        assert_eq!(raised_amr("pwd", Second::Totp), "pwd otp mfa");
        assert_eq!(raised_amr("pwd otp mfa", Second::Passkey), "pwd otp mfa hwk");
    }

    #[test]
    fn same_origin_rules() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert!(same_origin(&config, &headers(&[])));
        assert!(same_origin(
            &config,
            &headers(&[("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "same-origin")])
        ));
        assert!(same_origin(
            &config,
            &headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")])
        ));
        assert!(!same_origin(&config, &headers(&[("origin", "null")])));
        assert!(!same_origin(
            &config,
            &headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")])
        ));
        assert!(!same_origin(&config, &headers(&[("origin", "https://evil.example")])));
        assert!(!same_origin(&config, &headers(&[("sec-fetch-site", "same-site")])));
    }
}
