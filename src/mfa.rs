//! What a sign-in must prove beyond its first factor, and the sign-ins waiting to prove
//! it. A user with a second factor always gives it after a password (or an upstream
//! sign-in whose `amr` is not trusted); an operator (`accounts.require_mfa`), a client
//! (`--require-mfa`) or a request (`acr_values`) can demand one of everybody.
//!
//! Between the factors the browser holds a random cookie and the database a row keyed by
//! its digest ([`crate::store::factors::PendingSignInRow`]): no session exists until the
//! second factor is given, so nothing that reads sessions needs to know about half a
//! sign-in.

use crate::config::Config;
use crate::cookies;
use crate::error::AppError;
use crate::secrets;
use crate::sessions::{self, First, Second, SignIn};
use crate::state::AppState;
use crate::store::factors::PendingSignInRow;
use crate::store::sessions::SessionRow;
use axum::http::{HeaderMap, HeaderValue};

/// The page that asks for the second factor of a pending sign-in.
pub const SECOND_FACTOR_PATH: &str = "/login/second-factor";
/// The page that lists a user's factors, and sets one up when a sign-in needs it.
pub const SETUP_PATH: &str = "/account/two-factor";

const PENDING_COOKIE: &str = "gatehouse_pending";
/// Long enough to fetch a phone, short enough that an abandoned half sign-in dies.
const PENDING_TTL_SECS: i64 = 10 * 60;
pub const RECOVERY_CODES: usize = 10;

/// The second factor a sign-in still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any second factor: an authenticator-app code, a passkey, or a recovery code.
    Any,
    /// A passkey (phishing-resistant, the `phr` acr value).
    Passkey,
}

impl Need {
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Any => "any",
            Need::Passkey => "passkey",
        }
    }

    pub fn parse(value: &str) -> Need {
        match value {
            "passkey" => Need::Passkey,
            _ => Need::Any,
        }
    }

    /// Whether the session's sign-in already meets it.
    pub fn met_by(self, session: &SessionRow) -> bool {
        match self {
            Need::Any => sessions::has_amr(session, sessions::AMR_MFA),
            Need::Passkey => sessions::has_amr(session, sessions::AMR_HARDWARE_KEY),
        }
    }
}

/// The second factors a user has.
#[derive(Debug, Clone, Copy, Default)]
pub struct Factors {
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes: i64,
}

impl Factors {
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }

    /// Whether the user can give what `need` asks for.
    pub fn can_meet(&self, need: Need) -> bool {
        match need {
            Need::Any => self.any(),
            Need::Passkey => self.passkeys > 0,
        }
    }
}

pub async fn factors(state: &AppState, user_id: &str) -> Result<Factors, AppError> {
    let totp = state.store.totp(user_id).await?;
    Ok(Factors {
        totp: totp.is_some_and(|t| t.confirmed_at.is_some()),
        passkeys: state.store.passkey_count(user_id).await?,
        recovery_codes: state.store.unused_recovery_codes(user_id).await?,
    })
}

/// What the policy demands of every sign-in for this client, before any `acr_values`.
pub fn required(config: &Config, client_requires: bool) -> Option<Need> {
    (config.accounts.require_mfa || client_requires).then_some(Need::Any)
}

fn cookie_name(config: &Config) -> String {
    sessions::cookie_name(config, PENDING_COOKIE)
}

fn set_cookie(config: &Config, value: &str, max_age: Option<i64>) -> Result<HeaderValue, AppError> {
    let scope = cookies::Scope {
        path: "/",
        same_site: cookies::SameSite::Lax,
        secure: config.is_https(),
    };
    cookies::set(&cookie_name(config), value, &scope, max_age)
}

/// The Set-Cookie header that forgets a pending sign-in.
pub fn clear_cookie(config: &Config) -> Result<HeaderValue, AppError> {
    set_cookie(config, "", Some(0))
}

/// Where a sign-in stands before its second factor.
pub struct Begin<'a> {
    pub user_id: &'a str,
    /// The identifier whose login lockout second-factor failures count against.
    pub identifier: &'a str,
    pub first: First<'a>,
    /// Set when an existing session is stepping up.
    pub session_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub return_to: Option<&'a str>,
    pub need: Need,
}

/// Parks a sign-in until its second factor; returns the cookie that names it.
pub async fn begin(state: &AppState, begin: Begin<'_>) -> Result<HeaderValue, AppError> {
    let token = secrets::random_token();
    let row = PendingSignInRow {
        id: secrets::digest(&token),
        user_id: begin.user_id.to_string(),
        identifier: begin.identifier.to_string(),
        first_factor: SignIn::one(begin.first).amr(),
        idp: SignIn::one(begin.first).idp().map(str::to_string),
        session_id: begin.session_id.map(str::to_string),
        request_id: begin.request_id.map(str::to_string),
        return_to: begin.return_to.map(str::to_string),
        need: begin.need.as_str().to_string(),
        expires_at: state.clock.now() + PENDING_TTL_SECS,
    };
    state.store.create_pending_sign_in(&row).await?;
    set_cookie(&state.config, &token, None)
}

/// Where a signed-in session that lacks `need` goes for the parked request `request_id`:
/// to give its second factor (with the cookie of the pending step-up), or, without one
/// that meets the need, to set one up.
pub async fn step_up(
    state: &AppState,
    session: &SessionRow,
    request_id: &str,
    need: Need,
) -> Result<(String, Option<HeaderValue>), AppError> {
    if !factors(state, &session.user_id).await?.can_meet(need) {
        let passkey = if need == Need::Passkey { "&need=passkey" } else { "" };
        return Ok((format!("{SETUP_PATH}?request_id={request_id}{passkey}"), None));
    }
    let username = state
        .store
        .account_by_id(&session.user_id)
        .await?
        .map(|a| a.username)
        .unwrap_or_default();
    let first = match (session.amr.split(' ').next(), session.idp.as_deref()) {
        (Some(sessions::AMR_FEDERATED), Some(id)) => First::Upstream { id, mfa: false },
        _ => First::Password,
    };
    let cookie = begin(
        state,
        Begin {
            user_id: &session.user_id,
            identifier: &username,
            first,
            session_id: Some(&session.id),
            request_id: Some(request_id),
            return_to: None,
            need,
        },
    )
    .await?;
    Ok((SECOND_FACTOR_PATH.to_string(), Some(cookie)))
}

/// This browser's live pending sign-in, if any.
pub async fn pending(state: &AppState, headers: &HeaderMap) -> Result<Option<PendingSignInRow>, AppError> {
    let Some(token) = cookies::read(headers, &cookie_name(&state.config)) else {
        return Ok(None);
    };
    Ok(state
        .store
        .pending_sign_in(&secrets::digest(&token), state.clock.now())
        .await?)
}

/// The first factor a pending sign-in was made with.
pub fn first_of(pending: &PendingSignInRow) -> First<'_> {
    match (pending.first_factor.split(' ').next(), pending.idp.as_deref()) {
        (Some(sessions::AMR_FEDERATED), Some(id)) => First::Upstream { id, mfa: false },
        _ => First::Password,
    }
}

/// A finished sign-in: the session and the cookies to set.
pub struct Finished {
    pub session_id: String,
    pub cookies: Vec<HeaderValue>,
}

/// Completes a pending sign-in with its second factor: a new session, or the stepping-up
/// session raised in place (its apps stay signed in). `None` when another request
/// completed or ended it first.
pub async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    pending: &PendingSignInRow,
    second: Second,
) -> Result<Option<Finished>, AppError> {
    if !state.store.take_pending_sign_in(&pending.id).await? {
        return Ok(None);
    }
    let sign_in = SignIn {
        first: first_of(pending),
        second: Some(second),
    };
    let mut cookies = vec![clear_cookie(&state.config)?];
    let raised = match &pending.session_id {
        Some(id) => state
            .store
            .raise_session(id, &sign_in.amr(), state.clock.now())
            .await?
            .then(|| id.clone()),
        None => None,
    };
    let session_id = match raised {
        Some(id) => id,
        None => {
            let (session, cookie) = sessions::start(state, headers, &pending.user_id, &sign_in).await?;
            cookies.push(cookie);
            session.id
        }
    };
    Ok(Some(Finished { session_id, cookies }))
}

/// The label an authenticator-app secret is sealed under: a sealed secret copied to
/// another user's row does not open.
pub fn seal_label(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// Checks an authenticator-app code and spends its time step: a code that matched once
/// never matches again, on any instance. Accepting a code confirms an enrolment, so a
/// sign-in asks for a `confirmed` secret: one still being set up is no factor yet.
pub async fn totp_accepted(
    state: &AppState,
    user_id: &str,
    typed: &str,
    now: i64,
    confirmed: bool,
) -> Result<bool, AppError> {
    let Some(row) = state.store.totp(user_id).await? else {
        return Ok(false);
    };
    if row.confirmed_at.is_some() != confirmed {
        return Ok(false);
    }
    let secret = state.keys.kek().open(&seal_label(user_id), &row.secret)?;
    match crate::totp::matching_step(&secret, typed, now) {
        Some(step) => Ok(state.store.accept_totp_step(user_id, step, now).await?),
        None => Ok(false),
    }
}

/// Ten new recovery codes (shown once) and their digests (stored). 60 random bits each,
/// in groups a person can copy: `xxxx-xxxx-xxxx`.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..12)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
        })
        .collect();
    let digests = codes.iter().map(|c| recovery_digest(c)).collect();
    (codes, digests)
}

/// The digest of a recovery code as typed: case, spaces and dashes do not matter.
pub fn recovery_digest(typed: &str) -> String {
    let normal: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    secrets::digest(&normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let (codes, digests) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = digests.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let loose = codes[0].to_uppercase().replace('-', " ");
        assert_eq!(recovery_digest(&loose), digests[0]);
        assert_ne!(recovery_digest(&codes[1]), digests[0]);
    }
}
