//! Adding and removing passkeys on `/account/two-factor`. Both follow the page's rule
//! ([`two_factor::may_change`]): a recent sign-in, and one with a second factor once the
//! user has any.

use super::{answer, begin, enabled, take, user_handle, Refusal};
use crate::accounts::forms;
use crate::accounts::two_factor;
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::{found, read_form, Params};
use crate::mfa;
use crate::sessions::{self, Second};
use crate::state::AppState;
use crate::store::passkeys::PasskeyRow;
use crate::store::sessions::SessionRow;
use crate::users::Account;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::borrow::Cow;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};
use webauthn_rs_proto::{AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy};

const REGISTER: &str = "register";
/// Long enough for "Work laptop (Touch ID)", short enough for the list.
const MAX_NAME_CHARS: usize = 60;

/// A signed-in form on the two-factor page that passed CSRF and the freshness rule.
struct Allowed {
    session: SessionRow,
    account: Account,
    params: Params,
    request_id: Option<String>,
}

/// The checks every passkey form of the account page runs first; `Err` is the answer
/// when one fails (`json` for the options call made by script).
async fn allowed(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    json: bool,
) -> Result<Result<Allowed, Response>, AppError> {
    let params = read_form(headers, body).await.unwrap_or_default();
    let request_id = forms::live_request(state, params.get("request_id")).await?;
    let signed_in = match sessions::current(state, headers).await? {
        Some(session) => state.store.account_by_id(&session.user_id).await?.map(|a| (session, a)),
        None => None,
    };
    let Some((session, account)) = signed_in else {
        if json {
            return Ok(Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                message: Cow::Borrowed("Your session has ended. Sign in again."),
            }
            .json()));
        }
        return Ok(Err(found(&format!("/login?return_to={}", two_factor::PATH))));
    };
    if !forms::session_form_ok(state, headers, &session, &params) {
        if json {
            return Ok(Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: Cow::Borrowed(forms::FORM_EXPIRED),
            }
            .json()));
        }
        return Ok(Err(forms::refused(state)));
    }
    let factors = mfa::factors(state, &account.id).await?;
    if let Err(e) = two_factor::may_change(state, &session, &factors).await {
        if json {
            return Ok(Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: Cow::Owned(e),
            }
            .json()));
        }
        let page = two_factor::page(
            state,
            &session,
            &account,
            request_id.as_deref(),
            StatusCode::FORBIDDEN,
            None,
            Some(&e),
        )
        .await?;
        return Ok(Err(page));
    }
    Ok(Ok(Allowed {
        session,
        account,
        params,
        request_id,
    }))
}

/// `POST /account/two-factor/passkeys/options`: a registration ceremony for a new,
/// discoverable passkey (so it can sign in alone), excluding the ones already registered.
pub async fn options(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let webauthn = match enabled(&state) {
        Ok(w) => w,
        Err(off) => return Ok(*off),
    };
    let allowed = match allowed(&state, &headers, body, true).await? {
        Ok(a) => a,
        Err(answer) => return Ok(answer),
    };
    let account = &allowed.account;
    let existing = state
        .store
        .passkeys(&account.id)
        .await?
        .iter()
        .map(super::stored_passkey)
        .collect::<Result<Vec<_>, _>>()?;
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let display = match account.name() {
        name if name.is_empty() => account.username.clone(),
        name => name,
    };
    let (mut options, ceremony): (_, PasskeyRegistration) = webauthn
        .start_passkey_registration(user_handle(&account.id), &account.username, &display, Some(exclude))
        .map_err(|e| anyhow::anyhow!("passkey registration options: {e}"))?;
    // webauthn-rs asks for a resident key only as "discouraged"; a passkey that signs in
    // without a username must be discoverable, so ask for one (and keep verification).
    options.public_key.authenticator_selection = Some(AuthenticatorSelectionCriteria {
        authenticator_attachment: None,
        resident_key: Some(ResidentKeyRequirement::Required),
        require_resident_key: true,
        user_verification: UserVerificationPolicy::Required,
    });
    begin(&state, Some(&account.id), REGISTER, &ceremony, &options).await
}

/// `POST /account/two-factor/passkeys`: the browser's new credential, stored under the
/// name the user gave (or "Passkey" and the day).
pub async fn register(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let webauthn = match enabled(&state) {
        Ok(w) => w,
        Err(off) => return Ok(*off),
    };
    let Allowed {
        session,
        account,
        params,
        request_id,
    } = match allowed(&state, &headers, body, false).await? {
        Ok(a) => a,
        Err(answer) => return Ok(answer),
    };
    let refuse = |refusal: Refusal| {
        let (state, session, account, request_id) = (&state, &session, &account, request_id.as_deref());
        async move {
            two_factor::page(
                state,
                session,
                account,
                request_id,
                refusal.status,
                None,
                Some(&refusal.message),
            )
            .await
        }
    };
    let credential: RegisterPublicKeyCredential = match answer(params.get("credential")) {
        Ok(c) => c,
        Err(refused) => return refuse(refused).await,
    };
    let ceremony: PasskeyRegistration = match take(&state, params.get("challenge_id"), REGISTER).await? {
        // Started for this account, by its own session's page.
        Ok((Some(user_id), ceremony)) if user_id == account.id => ceremony,
        Ok(_) => return refuse(super::CEREMONY_GONE).await,
        Err(refused) => return refuse(refused).await,
    };
    let passkey = match webauthn.finish_passkey_registration(&credential, &ceremony) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(user_id = %account.id, error = %e, "passkey registration refused");
            return refuse(Refusal {
                status: StatusCode::BAD_REQUEST,
                message: Cow::Borrowed("The passkey could not be added. Try again."),
            })
            .await;
        }
    };
    let now = state.clock.now();
    let name = given_name(&params).unwrap_or_else(|| format!("Passkey ({})", super::date(now)));
    let row = PasskeyRow {
        id: super::credential_key(passkey.cred_id()),
        user_id: account.id.clone(),
        name,
        credential: serde_json::to_string(&passkey).map_err(|e| anyhow::anyhow!("passkey: {e}"))?,
        created_at: now,
        last_used_at: None,
    };
    if !state.store.add_passkey(&row).await? {
        return refuse(Refusal {
            status: StatusCode::BAD_REQUEST,
            message: Cow::Borrowed("This passkey is already registered."),
        })
        .await;
    }
    two_factor::enrolled(
        &state,
        (ip, &headers),
        &session,
        &account,
        Second::Passkey,
        request_id.as_deref(),
    )
    .await
}

/// The name typed for a passkey, trimmed and cut to length; None when blank.
fn given_name(params: &Params) -> Option<String> {
    params
        .get("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_NAME_CHARS).collect())
}

/// `POST /account/two-factor/passkeys/rename`: gives one of the user's passkeys a new name.
pub async fn rename(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    if let Err(off) = enabled(&state) {
        return Ok(*off);
    }
    let Allowed {
        session,
        account,
        params,
        ..
    } = match allowed(&state, &headers, body, false).await? {
        Ok(a) => a,
        Err(answer) => return Ok(answer),
    };
    let (status, notice, error) = match (params.get("id"), given_name(&params)) {
        (_, None) => (StatusCode::BAD_REQUEST, None, Some("Enter a name for the passkey.")),
        (Some(id), Some(name)) if state.store.rename_passkey(&account.id, id, &name).await? => {
            (StatusCode::OK, Some("Passkey renamed."), None)
        }
        _ => (
            StatusCode::BAD_REQUEST,
            None,
            Some("That passkey is not on your account."),
        ),
    };
    two_factor::page(&state, &session, &account, None, status, notice, error).await
}

/// `POST /account/two-factor/passkeys/remove`: removes one of the user's passkeys.
pub async fn remove(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(off) = enabled(&state) {
        return Ok(*off);
    }
    let Allowed {
        session,
        account,
        params,
        ..
    } = match allowed(&state, &headers, body, false).await? {
        Ok(a) => a,
        Err(answer) => return Ok(answer),
    };
    let removed = match params.get("id") {
        Some(id) => state.store.delete_passkey(&account.id, id).await?,
        None => false,
    };
    if !removed {
        let error = "That passkey is not on your account.";
        return two_factor::page(
            &state,
            &session,
            &account,
            None,
            StatusCode::BAD_REQUEST,
            None,
            Some(error),
        )
        .await;
    }
    two_factor::removed(&state, (ip, &headers), &account, Second::Passkey).await?;
    two_factor::page(
        &state,
        &session,
        &account,
        None,
        StatusCode::OK,
        Some("Passkey removed."),
        None,
    )
    .await
}
