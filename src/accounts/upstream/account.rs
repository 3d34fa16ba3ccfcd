//! The account page's sign-in methods: linked identities, linking another, unlinking, and
//! the re-authentication at an upstream that stands in for the current password of an
//! account that has none.

use super::{go, problem, Purpose};
use crate::accounts::forms;
use crate::accounts::profile::{with_form, FRESH_SIGN_IN_SECS};
use crate::error::AppError;
use crate::http::{found, read_form};
use crate::sessions;
use crate::state::AppState;
use crate::upstream::{Identity, Provider};
use crate::users::Account;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

/// Starts a trip to `id` from the signed-in account page: to link another identity
/// (`linking`), or to re-authenticate with a linked one.
async fn start_from_account(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    id: &str,
    linking: bool,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(session) = sessions::current(&state, &headers).await? else {
        return Ok(found("/login?return_to=/account"));
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    let Some(provider) = state.upstreams.get(id) else {
        return Ok(found("/account"));
    };
    // A stolen session cookie must not be able to add the thief's own way in.
    if linking && state.clock.now() - session.auth_time > FRESH_SIGN_IN_SECS {
        return Ok(forms::message(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            context! {
                title => "Sign in again first",
                message => "For your security, linking another sign-in method needs a recent sign-in.",
                link => "/login?return_to=/account", link_label => "Sign in",
            },
        ));
    }
    let purpose = match linking {
        true => Purpose::Link { session_id: session.id },
        false => Purpose::Reauth { session_id: session.id },
    };
    go(&state, &headers, &provider, purpose, None, None).await
}

/// `POST /account/upstream/{id}/link`.
pub async fn start_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    start_from_account(state, headers, body, &id, true).await
}

/// `POST /account/upstream/{id}/reauth`.
pub async fn start_reauth(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    start_from_account(state, headers, body, &id, false).await
}

/// Back from the provider with an identity to link to the session's account.
pub(super) async fn linked(
    state: &AppState,
    headers: &HeaderMap,
    provider: &Provider,
    identity: &Identity,
    session_id: &str,
) -> Result<Response, AppError> {
    let Some(account) = session_account(state, headers, session_id).await? else {
        return Ok(super::expired(state, headers));
    };
    if let Some(existing) = state.store.identity(&identity.issuer, &identity.subject).await? {
        if existing.user_id == account.id {
            return Ok(found("/account"));
        }
        return Ok(problem(
            state,
            headers,
            StatusCode::CONFLICT,
            "Already linked to another account",
            &format!(
                "This {} account signs in to a different account here. Unlink it there first.",
                provider.config.name
            ),
        ));
    }
    if !super::steps::link(state, &account, &provider.config.id, identity).await? {
        return Ok(super::expired(state, headers));
    }
    Ok(found("/account"))
}

/// Back from a re-authentication: the same identity as one linked to this account makes
/// the session count as a fresh sign-in.
pub(super) async fn reauthenticated(
    state: &AppState,
    headers: &HeaderMap,
    identity: &Identity,
    session_id: &str,
) -> Result<Response, AppError> {
    let Some(account) = session_account(state, headers, session_id).await? else {
        return Ok(super::expired(state, headers));
    };
    match state.store.identity(&identity.issuer, &identity.subject).await? {
        Some(linked) if linked.user_id == account.id => {
            state.store.refresh_auth_time(session_id, state.clock.now()).await?;
            Ok(found("/account"))
        }
        _ => Ok(problem(
            state,
            headers,
            StatusCode::FORBIDDEN,
            "That was a different account",
            "Confirm it's you with the account linked here.",
        )),
    }
}

/// The account of this browser's session, if it is the session that started the trip.
async fn session_account(state: &AppState, headers: &HeaderMap, session_id: &str) -> Result<Option<Account>, AppError> {
    let Some(session) = sessions::current(state, headers).await?.filter(|s| s.id == session_id) else {
        return Ok(None);
    };
    Ok(state.store.account_by_id(&session.user_id).await?)
}

/// `POST /account/identities/unlink`: only while another way to sign in remains.
pub async fn unlink(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, _, account, params| async move {
        let id = params.get("identity_id").unwrap_or_default();
        if state.store.unlink_identity(&account.id, id).await? {
            tracing::info!(user_id = %account.id, "upstream identity unlinked");
            crate::accounts::mail::notice(
                &state,
                &account.email,
                "identity_unlinked",
                context! { name => account.given_name },
            )
            .await?;
            return Ok(Ok("Unlinked. It no longer signs in to this account.".into()));
        }
        Ok(Err(
            "That is your only way to sign in. Set a password (use Forgot password) or link another account first."
                .into(),
        ))
    })
    .await
}
