//! Changing the account's email address: the request (with the current password), the
//! new address's confirmation, and the old address's way back. The new address must prove
//! itself before anything changes; the old one is told at once and, once the change takes
//! effect, gets a link that undoes it, since whoever changed it knew the password
//! (security checklist C17).

use super::forms::{self, CONFIRM_TTL};
use super::profile::{password_ok, with_form};
use super::recovery::{after_password_change, reset_link, Afterwards};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::read_form;
use crate::secrets;
use crate::state::AppState;
use crate::store::{self, email_tokens::EmailToken};
use crate::users::validate_email;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

const CHANGE_EXPIRED: &str = "Ask for a new one from your account page.";
const REVERT_EXPIRED: &str = "It was already used, or is more than seven days old.";

fn expired(state: &AppState, message: &str) -> Response {
    state
        .pages
        .error(StatusCode::BAD_REQUEST, "This link has expired", message)
}

/// The link a form posted back (`token`), used up: or the page to answer instead (a
/// refused form, or an expired link).
async fn take_posted_link(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    purpose: &str,
    expired_message: &str,
    now: i64,
) -> Result<Result<EmailToken, Response>, AppError> {
    let params = read_form(headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(state, headers, &params) {
        return Ok(Err(forms::refused(state)));
    }
    let token = params.get("token").unwrap_or_default();
    Ok(state
        .store
        .take_email_token(&secrets::digest(token), purpose, now)
        .await?
        .ok_or_else(|| expired(state, expired_message)))
}

/// Gives the account the link's address; a conflict page when two accounts raced for it
/// and the database picked the other.
async fn move_email(
    state: &AppState,
    link: &EmailToken,
    now: i64,
    taken: &str,
) -> Result<Result<(), Response>, AppError> {
    match state.store.set_email(&link.user_id, &link.email, now).await {
        Ok(()) => Ok(Ok(())),
        Err(e) if store::is_unique_violation(&e) => Ok(Err(state.pages.error(
            StatusCode::CONFLICT,
            "Address not available",
            taken,
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The button page of an emailed link, or the expired page.
async fn link_page(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
    token: &str,
    texts: [&str; 4],
    expired_message: &str,
) -> Result<Response, AppError> {
    Ok(
        match forms::link_button_page(state, headers, purpose, token, texts).await? {
            Some(page) => page,
            None => expired(state, expired_message),
        },
    )
}

pub async fn change_email(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, session, account, params| async move {
        if let Err(e) = password_ok(&state, ip, &session, &account, &params).await? {
            return Ok(Err(e));
        }
        let email = match validate_email(params.get("email").unwrap_or_default()) {
            Ok(e) => e,
            Err(e) => return Ok(Err(e.into())),
        };
        super::mail::link(
            &state,
            super::mail::Link {
                user_id: &account.id,
                name: &account.given_name,
                to: &email,
                purpose: "email_change",
                path: "/account/email/confirm",
                ttl: CONFIRM_TTL,
                request_id: None,
                browser_hash: None,
                template: "email_change",
                label: "Confirm new address",
            },
            context! { new_email => email },
        )
        .await?;
        super::mail::notice(
            &state,
            &account.email,
            "email_change_notice",
            context! { name => account.given_name, new_email => email },
        )
        .await?;
        Ok(Ok(format!(
            "We sent a link to {email}. Your address changes once you open it."
        )))
    })
    .await
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn confirm_email_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let token = q.token.unwrap_or_default();
    let texts = [
        "Confirm your new email",
        "Make this the address of your account.",
        "/account/email/confirm",
        "Confirm new address",
    ];
    link_page(&state, &headers, "email_change", &token, texts, CHANGE_EXPIRED).await
}

pub async fn confirm_email(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let link = match take_posted_link(&state, &headers, body, "email_change", CHANGE_EXPIRED, now).await? {
        Ok(link) => link,
        Err(page) => return Ok(page),
    };
    let Some(before) = state.store.account_by_id(&link.user_id).await? else {
        return Ok(forms::refused(&state));
    };
    if let Err(taken) = move_email(&state, &link, now, "That address now belongs to another account.").await? {
        return Ok(taken);
    }
    // Links sent to the old address (resets, confirmations) are bound to it and now dead.
    state.store.drop_email_tokens(&link.user_id).await?;
    tracing::info!(user_id = %link.user_id, "email changed");
    let event = Event::new(Action::EmailChanged).actor(&link.user_id);
    audit::record(&state, ip.0, &headers, event).await;
    // The old address keeps a way back: whoever changed it knew the password, so the
    // owner must be able to undo it from the mailbox alone (checklist C17).
    super::mail::link_in_notice(
        &state,
        super::mail::Link {
            user_id: &before.id,
            name: &before.given_name,
            to: &before.email,
            purpose: "email_revert",
            path: "/account/email/revert",
            ttl: REVERT_TTL,
            request_id: None,
            browser_hash: None,
            template: "email_changed_revert",
            label: "Undo this change",
        },
        context! { new_email => link.email },
    )
    .await?;
    Ok(forms::message(
        &state,
        &headers,
        StatusCode::OK,
        context! { title => "Email changed", message => format!("Your account now uses {}.", link.email), link => "/account", link_label => "Back to your account" },
    ))
}

/// How long the old address can undo an email change.
const REVERT_TTL: i64 = 7 * 24 * 3600;

/// `GET /account/email/revert?token=…`: the old address's way back, behind a button.
pub async fn revert_email_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let token = q.token.unwrap_or_default();
    let texts = [
        "Undo the email change",
        "Your account gets this address back, everyone is signed out, and you choose a new password.",
        "/account/email/revert",
        "Undo the change",
    ];
    link_page(&state, &headers, "email_revert", &token, texts, REVERT_EXPIRED).await
}

/// `POST /account/email/revert`: the address goes back, and everything the person who
/// changed it could hold ends: sessions, grants, links and the password itself. A reset
/// link to the restored address lets the owner in again.
pub async fn revert_email(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let link = match take_posted_link(&state, &headers, body, "email_revert", REVERT_EXPIRED, now).await? {
        Ok(link) => link,
        Err(page) => return Ok(page),
    };
    let taken = "That address now belongs to another account. Contact the operator of this service.";
    if let Err(page) = move_email(&state, &link, now, taken).await? {
        return Ok(page);
    }
    state.store.clear_password(&link.user_id, now).await?;
    after_password_change(&state, &link.user_id, Afterwards::EndEverything).await?;
    let Some(account) = state.store.account_by_id(&link.user_id).await? else {
        return Ok(forms::refused(&state));
    };
    super::mail::link_in_notice(&state, reset_link(&account, None), context! {}).await?;
    tracing::warn!(user_id = %account.id, "email change undone from the old address; sessions, grants and password cleared");
    let event = Event::new(Action::EmailChanged).actor(&account.id).detail("reverted");
    audit::record(&state, ip.0, &headers, event).await;
    Ok(forms::message(
        &state,
        &headers,
        StatusCode::OK,
        context! {
            title => "Email change undone",
            message => format!("Your account uses {} again, and everyone was signed out. We sent a link there to choose a new password.", account.email),
        },
    ))
}
