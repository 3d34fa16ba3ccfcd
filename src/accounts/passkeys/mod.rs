//! Passkeys (WebAuthn, through webauthn-rs): registered from the account page, used alone
//! to sign in (discoverable credentials, with user verification), or as a second factor.
//!
//! Every ceremony has two requests. The first (`…/options`, JSON, called by
//! `passkeys.js`) stores the ceremony's state in `webauthn_challenges` under the digest
//! of a random id and answers the id with the options for `navigator.credentials`. The
//! second is a plain form post of the id and the browser's answer, so the browser follows
//! our redirects and sets our cookies as for any other sign-in. The state is taken (and
//! so spent) before the answer is checked: a ceremony is finished once, right or wrong.
//!
//! The user handle stored in a passkey is not the user id but the first 16 bytes of its
//! SHA-256 ([`user_handle`]): stable, fixed-size, and no database key on the device.

mod account;
mod sign_in;

use crate::config::Config;
use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::passkeys::PasskeyRow;
use crate::users::Account;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use std::sync::Arc;
use webauthn_rs::prelude::{Passkey, Uuid};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// The relying party: its id is the issuer's host, its origin the issuer's origin. An
/// issuer on an IP address has no passkeys (browsers accept only domain names, and
/// `localhost`, as relying-party ids).
pub fn relying_party(config: &Config) -> anyhow::Result<Option<Arc<Webauthn>>> {
    let Some(url::Host::Domain(host)) = config.issuer.host() else {
        return Ok(None);
    };
    let origin = url::Url::parse(&config.issuer.origin().ascii_serialization())?;
    let webauthn = WebauthnBuilder::new(host, &origin)
        .and_then(|b| b.rp_name(&config.product_name).timeout(CEREMONY_TIMEOUT).build())
        .map_err(|e| anyhow::anyhow!("cannot set up passkeys for the issuer {}: {e}", config.issuer_str()))?;
    Ok(Some(Arc::new(webauthn)))
}

/// How long the browser may take over a ceremony (the options' `timeout`).
const CEREMONY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// How long its stored state lives: the browser's timeout and a little for the post.
const CHALLENGE_TTL_SECS: i64 = 300 + 60;

pub const SCRIPT_PATH: &str = "/assets/passkeys.js";
const SCRIPT: &str = include_str!("../../../templates/assets/passkeys.js");

/// The passkey routes (sign-in, second factor, registration and removal).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SCRIPT_PATH, get(script))
        .route("/login/passkey/options", post(sign_in::options))
        .route("/login/passkey", post(sign_in::finish))
        .route(
            "/login/second-factor/passkey/options",
            post(sign_in::second_factor_options),
        )
        .route("/login/second-factor/passkey", post(sign_in::second_factor_finish))
        .route("/account/two-factor/passkeys/options", post(account::options))
        .route("/account/two-factor/passkeys", post(account::register))
        .route("/account/two-factor/passkeys/remove", post(account::remove))
        .route("/account/two-factor/passkeys/rename", post(account::rename))
}

/// What the account page shows about the user's passkeys.
pub async fn account_context(state: &AppState, account: &Account) -> Result<minijinja::Value, AppError> {
    let passkeys: Vec<minijinja::Value> = state
        .store
        .passkeys(&account.id)
        .await?
        .into_iter()
        .map(|p| {
            minijinja::context! {
                id => p.id,
                name => p.name,
                created => date_time(p.created_at),
                last_used => p.last_used_at.map(date_time),
            }
        })
        .collect();
    Ok(minijinja::Value::from(passkeys))
}

/// A day (UTC) as people read it, e.g. `1 Dec 2026`. Days from the epoch to a civil
/// date by Howard Hinnant's `civil_from_days`, so no calendar crate is needed for this.
fn date(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"");
    format!("{day} {name} {year}")
}

/// A moment (UTC) as people read it, e.g. `1 Dec 2026, 17:05 UTC`.
fn date_time(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!("{}, {:02}:{:02} UTC", date(unix), secs / 3600, secs % 3600 / 60)
}

/// The stable WebAuthn user handle of a user (see the module doc).
pub fn user_handle(user_id: &str) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(user_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A credential id as the `passkeys.id` column keeps it.
fn credential_key(id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// The relying party, or the 404 page every passkey route answers without one.
fn enabled(state: &AppState) -> Result<Arc<Webauthn>, Box<Response>> {
    state.webauthn.clone().ok_or_else(|| {
        Box::new(state.pages.error(
            StatusCode::NOT_FOUND,
            "Passkeys are not available here",
            "This server does not offer passkeys. Sign in with your password instead.",
        ))
    })
}

async fn script(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    if let Err(off) = enabled(&state) {
        return *off;
    }
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// Why a ceremony was refused: a status and one sentence, as JSON for `passkeys.js`
/// (which shows the sentence) or as a page for a form post.
struct Refusal {
    status: StatusCode,
    message: std::borrow::Cow<'static, str>,
}

const UNREADABLE: Refusal = Refusal {
    status: StatusCode::BAD_REQUEST,
    message: std::borrow::Cow::Borrowed("The browser's passkey answer could not be read. Try again."),
};
const CEREMONY_GONE: Refusal = Refusal {
    status: StatusCode::BAD_REQUEST,
    message: std::borrow::Cow::Borrowed("This passkey request expired or was already used. Try again."),
};
const NOT_VERIFIED: Refusal = Refusal {
    status: StatusCode::UNAUTHORIZED,
    message: std::borrow::Cow::Borrowed("That passkey could not be verified for this account."),
};

impl Refusal {
    fn json(&self) -> Response {
        let body = serde_json::json!({ "error": "passkey_refused", "message": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        response
    }

    fn page(&self, state: &AppState) -> Response {
        state.pages.error(self.status, "Passkey not accepted", &self.message)
    }
}

/// Starts a ceremony: keeps its state, and answers the id and options as JSON.
async fn begin(
    state: &AppState,
    user_id: Option<&str>,
    purpose: &str,
    ceremony_state: &impl serde::Serialize,
    options: &impl serde::Serialize,
) -> Result<Response, AppError> {
    let id = secrets::random_token();
    let stored = serde_json::to_string(ceremony_state).map_err(|e| anyhow::anyhow!("passkey state: {e}"))?;
    state
        .store
        .create_webauthn_challenge(
            &secrets::digest(&id),
            user_id,
            purpose,
            &stored,
            state.clock.now() + CHALLENGE_TTL_SECS,
        )
        .await?;
    let mut response = axum::Json(serde_json::json!({ "challenge_id": id, "options": options })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Takes (spends) the ceremony named by the browser's `challenge_id`, and reads its state.
/// The user it was started for comes with it.
async fn take<S: serde::de::DeserializeOwned>(
    state: &AppState,
    challenge_id: Option<&str>,
    purpose: &str,
) -> Result<Result<(Option<String>, S), Refusal>, AppError> {
    let Some(id) = challenge_id else {
        return Ok(Err(CEREMONY_GONE));
    };
    let Some(row) = state
        .store
        .take_webauthn_challenge(&secrets::digest(id), purpose, state.clock.now())
        .await?
    else {
        return Ok(Err(CEREMONY_GONE));
    };
    // Our own row: unreadable state is a bug or a changed library, not the caller's fault.
    let ceremony = serde_json::from_str(&row.state).map_err(|e| anyhow::anyhow!("stored passkey state: {e}"))?;
    Ok(Ok((row.user_id, ceremony)))
}

/// Reads the browser's answer (`credential`, JSON) as webauthn-rs's type.
fn answer<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, Refusal> {
    raw.and_then(|r| serde_json::from_str(r).ok()).ok_or(UNREADABLE)
}

fn stored_passkey(row: &PasskeyRow) -> Result<Passkey, AppError> {
    serde_json::from_str(&row.credential).map_err(|e| anyhow::anyhow!("stored passkey {}: {e}", row.id).into())
}

/// Records a use: the counter (and backup state) the authenticator reported, and when.
async fn used(
    state: &AppState,
    row: &PasskeyRow,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), AppError> {
    passkey.update_credential(result);
    let json = serde_json::to_string(&passkey).map_err(|e| anyhow::anyhow!("passkey: {e}"))?;
    state.store.passkey_used(&row.id, &json, state.clock.now()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handle_is_stable_and_per_user() {
        assert_eq!(user_handle("u1"), user_handle("u1"));
        assert_ne!(user_handle("u1"), user_handle("u2"));
    }

    #[test]
    fn dates_read_as_day_month_year() {
        assert_eq!(date(1_796_083_200), "1 Dec 2026");
        assert_eq!(date(951_782_400), "29 Feb 2000");
        assert_eq!(date(0), "1 Jan 1970");
        assert_eq!(
            date_time(1_796_083_200 + 17 * 3600 + 5 * 60 + 9),
            "1 Dec 2026, 17:05 UTC"
        );
    }
}
