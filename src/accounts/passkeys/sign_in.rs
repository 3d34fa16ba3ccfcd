//! Signing in with a passkey: alone, from the login page (a discoverable credential with
//! user verification, found by the browser, offered by a button or in the username
//! field's autofill), or as the second factor of a pending sign-in.

use super::{answer, begin, enabled, stored_passkey, take, used, Refusal, NOT_VERIFIED};
use crate::accounts::forms::{self, FORM_EXPIRED};
use crate::accounts::second_factor;
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::read_form;
use crate::mfa;
use crate::sessions::{First, Second};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::borrow::Cow;
use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, PasskeyAuthentication, PublicKeyCredential};

const SIGN_IN: &str = "sign_in";
const SECOND_FACTOR: &str = "second_factor";
/// Asking for options is limited apart from sign-in attempts: the login page asks once per
/// view (for autofill), and that must not use up the attempts of people behind one address.
const OPTIONS_LIMIT: &str = "passkey_options";

const FORM_REFUSED: Refusal = Refusal {
    status: StatusCode::FORBIDDEN,
    message: Cow::Borrowed(FORM_EXPIRED),
};
const SIGN_IN_GONE: Refusal = Refusal {
    status: StatusCode::BAD_REQUEST,
    message: Cow::Borrowed("This sign-in has expired or was already completed. Go back and sign in again."),
};

/// `POST /login/passkey/options`: a passwordless ceremony, for any passkey of ours.
pub async fn options(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let webauthn = match enabled(&state) {
        Ok(w) => w,
        Err(off) => return Ok(*off),
    };
    if let Err(limited) = forms::limit(&state, ip, OPTIONS_LIMIT) {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(FORM_REFUSED.json());
    }
    let (options, ceremony) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| anyhow::anyhow!("passkey sign-in options: {e}"))?;
    begin(&state, None, SIGN_IN, &ceremony, &options).await
}

/// `POST /login/passkey`: the browser's answer; on success the sign-in goes on as after
/// any first factor (a passkey with user verification is already two).
pub async fn finish(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let webauthn = match enabled(&state) {
        Ok(w) => w,
        Err(off) => return Ok(*off),
    };
    if let Err(limited) = forms::limit(&state, ip, "login") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(FORM_REFUSED.page(&state));
    }
    let credential: PublicKeyCredential = match answer(params.get("credential")) {
        Ok(c) => c,
        Err(refused) => return Ok(refused.page(&state)),
    };
    let ceremony: DiscoverableAuthentication = match take(&state, params.get("challenge_id"), SIGN_IN).await? {
        Ok((_, ceremony)) => ceremony,
        Err(refused) => return Ok(refused.page(&state)),
    };
    // Which passkey the browser chose, and whose it says it is: both must match our row.
    let Ok((handle, credential_id)) = webauthn.identify_discoverable_authentication(&credential) else {
        return Ok(not_verified(&state));
    };
    let Some(row) = state.store.passkey(&super::credential_key(credential_id)).await? else {
        tracing::info!("passkey sign-in with an unknown credential");
        audit::record(&state, ip.0, &headers, Event::new(Action::SignInFailed).detail("hwk")).await;
        return Ok(not_verified(&state));
    };
    if super::user_handle(&row.user_id) != handle {
        tracing::info!(user_id = %row.user_id, "passkey sign-in whose user handle is another's");
        let event = Event::new(Action::SignInFailed).actor(&row.user_id).detail("hwk");
        audit::record(&state, ip.0, &headers, event).await;
        return Ok(not_verified(&state));
    }
    let passkey = stored_passkey(&row)?;
    let result =
        match webauthn.finish_discoverable_authentication(&credential, ceremony, &[DiscoverableKey::from(&passkey)]) {
            Ok(result) => result,
            Err(e) => {
                tracing::info!(user_id = %row.user_id, error = %e, "passkey sign-in not verified");
                let event = Event::new(Action::SignInFailed).actor(&row.user_id).detail("hwk");
                audit::record(&state, ip.0, &headers, event).await;
                return Ok(not_verified(&state));
            }
        };
    let Some(account) = state.store.account_by_id(&row.user_id).await? else {
        return Ok(not_verified(&state));
    };
    used(&state, &row, passkey, &result).await?;
    let request_id = forms::live_request(&state, params.get("request_id")).await?;
    let return_to = forms::validated_return_to(&state, params.get("return_to")).await?;
    tracing::info!(user_id = %account.id, "login with a passkey");
    let event = Event::new(Action::SignIn).actor(&account.id).detail("hwk");
    audit::record(&state, ip.0, &headers, event).await;
    second_factor::after_first_factor(
        &state,
        &headers,
        &account.id,
        &account.username,
        First::Passkey,
        request_id,
        return_to,
    )
    .await
}

/// `POST /login/second-factor/passkey/options`: a ceremony for the pending sign-in's
/// user, limited to that user's passkeys.
pub async fn second_factor_options(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let webauthn = match enabled(&state) {
        Ok(w) => w,
        Err(off) => return Ok(*off),
    };
    if let Err(limited) = forms::limit(&state, ip, OPTIONS_LIMIT) {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(pending) = mfa::pending(&state, &headers).await? else {
        return Ok(SIGN_IN_GONE.json());
    };
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(FORM_REFUSED.json());
    }
    if let Some(minutes) = second_factor::locked(&state, &pending).await? {
        return Ok(locked(minutes).json());
    }
    let passkeys = state
        .store
        .passkeys(&pending.user_id)
        .await?
        .iter()
        .map(stored_passkey)
        .collect::<Result<Vec<_>, _>>()?;
    if passkeys.is_empty() {
        return Ok(Refusal {
            status: StatusCode::BAD_REQUEST,
            message: Cow::Borrowed("Your account has no passkey. Use another way to confirm it's you."),
        }
        .json());
    }
    let (options, ceremony) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| anyhow::anyhow!("passkey second-factor options: {e}"))?;
    begin(&state, Some(&pending.user_id), SECOND_FACTOR, &ceremony, &options).await
}

fn locked(minutes: i64) -> Refusal {
    Refusal {
        status: StatusCode::TOO_MANY_REQUESTS,
        message: Cow::Owned(format!("Too many failed attempts. Try again in {minutes} minute(s).")),
    }
}

/// `POST /login/second-factor/passkey`: the browser's answer for a pending sign-in.
/// A wrong answer counts against the sign-in's lockout as a wrong code does.
pub async fn second_factor_finish(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let webauthn = match enabled(&state) {
        Ok(w) => w,
        Err(off) => return Ok(*off),
    };
    if let Err(limited) = forms::limit(&state, ip, "login") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(pending) = mfa::pending(&state, &headers).await? else {
        return Ok(SIGN_IN_GONE.page(&state));
    };
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(FORM_REFUSED.page(&state));
    }
    if let Some(minutes) = second_factor::locked(&state, &pending).await? {
        return again(&state, &headers, &pending, locked(minutes)).await;
    }
    let credential: PublicKeyCredential = match answer(params.get("credential")) {
        Ok(c) => c,
        Err(refused) => return again(&state, &headers, &pending, refused).await,
    };
    let ceremony: PasskeyAuthentication = match take(&state, params.get("challenge_id"), SECOND_FACTOR).await? {
        // A ceremony started for another user's pending sign-in proves nothing here.
        Ok((Some(user_id), ceremony)) if user_id == pending.user_id => ceremony,
        Ok(_) => return again(&state, &headers, &pending, super::CEREMONY_GONE).await,
        Err(refused) => return again(&state, &headers, &pending, refused).await,
    };
    // The ceremony allows only this user's passkeys, so another's fails verification.
    let row = state
        .store
        .passkey(&super::credential_key(credential.get_credential_id()))
        .await?
        .filter(|row| row.user_id == pending.user_id);
    let verified = webauthn.finish_passkey_authentication(&credential, &ceremony);
    let (Some(row), Ok(result)) = (row, verified) else {
        second_factor::failed(&state, ip, &headers, &pending, Second::Passkey).await?;
        return again(&state, &headers, &pending, NOT_VERIFIED).await;
    };
    let passkey = stored_passkey(&row)?;
    used(&state, &row, passkey, &result).await?;
    second_factor::finish(&state, ip, &headers, &pending, Second::Passkey).await
}

/// A refused second-factor passkey: the second-factor page again, saying why, so the user
/// can try another factor.
async fn again(
    state: &AppState,
    headers: &HeaderMap,
    pending: &crate::store::factors::PendingSignInRow,
    refusal: Refusal,
) -> Result<Response, AppError> {
    second_factor::render(state, headers, pending, refusal.status, Some(&refusal.message)).await
}

/// A passwordless answer that proved nothing: counted, and the page that says so.
fn not_verified(state: &AppState) -> Response {
    state.metrics.sign_in("passkey", "failure");
    NOT_VERIFIED.page(state)
}
