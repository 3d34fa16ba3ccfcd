//! The signed-in account page: names and username, email change (confirmed by the new
//! address, announced to the old), password change, other sessions, and deletion. Every
//! change is a POST carrying the session's CSRF token; sensitive ones ask for the current
//! password again.

use super::forms::{self, CONFIRM_TTL};
use super::lockout::{self, Verdict};
use super::recovery::{after_password_change, Afterwards};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::found;
use crate::http::{read_form, Params};
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::store::{self, sessions::SessionRow};
use crate::users::{validate_email, validate_name, validate_username, Account};
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

/// The signed-in user and session, or the login page (coming back here afterwards).
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Result<(SessionRow, Account), Response>, AppError> {
    let Some(session) = sessions::current(state, headers).await? else {
        return Ok(Err(found("/login?return_to=/account")));
    };
    match state.store.account_by_id(&session.user_id).await? {
        Some(account) => Ok(Ok((session, account))),
        None => Ok(Err(found("/login?return_to=/account"))),
    }
}

async fn page(
    state: &AppState,
    session: &SessionRow,
    account: &Account,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let sessions: Vec<minijinja::Value> = state
        .store
        .user_sessions(&account.id, now)
        .await?
        .iter()
        .map(|s| {
            let minutes = (now - s.auth_time) / 60;
            let signed_in = match minutes {
                0 => "just now".to_string(),
                m if m < 120 => format!("{m} minutes ago"),
                m if m < 48 * 60 => format!("{} hours ago", m / 60),
                m => format!("{} days ago", m / 1440),
            };
            context! { signed_in, current => s.id == session.id, id => s.id }
        })
        .collect();
    let offline_apps: Vec<minijinja::Value> = state
        .store
        .offline_apps(&account.id, now)
        .await?
        .into_iter()
        .map(|(client_id, client_name)| context! { client_id, client_name })
        .collect();
    let user = context! {
        username => account.username, email => account.email,
        given_name => account.given_name, family_name => account.family_name,
    };
    Ok(state.pages.render(
        status,
        "account.html",
        context! { user, sessions, offline_apps, notice, error, csrf_token => session.csrf_token },
    ))
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let (session, account) = match signed_in(&state, &headers).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    page(&state, &session, &account, StatusCode::OK, None, None).await
}

/// Runs a signed-in form: session, CSRF, then `action`, which answers with a notice or an
/// error shown on the account page.
async fn with_form<F, Fut>(state: AppState, headers: HeaderMap, body: Body, action: F) -> Result<Response, AppError>
where
    F: FnOnce(AppState, SessionRow, Account, Params) -> Fut,
    Fut: std::future::Future<Output = Result<Result<String, String>, AppError>>,
{
    let params = read_form(&headers, body).await.unwrap_or_default();
    let (session, account) = match signed_in(&state, &headers).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    let outcome = action(state.clone(), session.clone(), account, params).await?;
    let account = state.store.account_by_id(&session.user_id).await?;
    let Some(account) = account else {
        return Ok(found("/login"));
    };
    match outcome {
        Ok(notice) => page(&state, &session, &account, StatusCode::OK, Some(&notice), None).await,
        Err(error) => page(&state, &session, &account, StatusCode::BAD_REQUEST, None, Some(&error)).await,
    }
}

/// The current password, checked under the same per-IP limit and per-account lockout as
/// the login page: a session cannot saturate the hasher or guess past the lockout.
async fn password_ok(
    state: &AppState,
    ip: ClientIp,
    account: &Account,
    params: &Params,
) -> Result<Result<(), String>, AppError> {
    if state.limiter.check("password", ip.0, state.clock.now()).is_err() {
        return Ok(Err("Too many attempts. Please wait a minute and try again.".into()));
    }
    let given = params.get("current_password").unwrap_or_default();
    Ok(
        match lockout::verify(state, &account.username, given, account.password_hash.as_deref()).await? {
            Verdict::Correct => Ok(()),
            Verdict::Wrong => Err("Your current password is not correct.".into()),
            Verdict::Locked(minutes) => Err(format!(
                "Too many failed attempts. Try again in {minutes} minute(s), or reset your password."
            )),
        },
    )
}

pub async fn update_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, _, account, params| async move {
        let given = params.get("given_name").unwrap_or_default();
        let family = params.get("family_name").unwrap_or_default();
        if given.trim().is_empty() || family.trim().is_empty() {
            return Ok(Err("Enter your first and last name.".into()));
        }
        let (given, family) = match (validate_name(given), validate_name(family)) {
            (Ok(g), Ok(f)) => (g, f),
            (Err(e), _) | (_, Err(e)) => return Ok(Err(e.into())),
        };
        let username = match validate_username(params.get("username").unwrap_or_default()) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e.into())),
        };
        let now = state.clock.now();
        if username != account.username {
            match state.store.set_username(&account.id, &username, now).await {
                Ok(()) => {}
                Err(e) if store::is_unique_violation(&e) => {
                    return Ok(Err("That username is taken. Try another.".into()))
                }
                Err(e) => return Err(e.into()),
            }
        }
        state.store.set_names(&account.id, &given, &family, now).await?;
        Ok(Ok("Profile saved.".into()))
    })
    .await
}

pub async fn change_email(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, _, account, params| async move {
        if let Err(e) = password_ok(&state, ip, &account, &params).await? {
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
    Ok(
        match forms::link_button_page(&state, &headers, "email_change", &token, texts).await? {
            Some(page) => page,
            None => state.pages.error(
                StatusCode::BAD_REQUEST,
                "This link has expired",
                "Ask for a new one from your account page.",
            ),
        },
    )
}

pub async fn confirm_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(forms::refused(&state));
    }
    let now = state.clock.now();
    let token = params.get("token").unwrap_or_default();
    let Some(link) = state
        .store
        .take_email_token(&secrets::digest(token), "email_change", now)
        .await?
    else {
        return Ok(state.pages.error(
            StatusCode::BAD_REQUEST,
            "This link has expired",
            "Ask for a new one from your account page.",
        ));
    };
    let Some(before) = state.store.account_by_id(&link.user_id).await? else {
        return Ok(forms::refused(&state));
    };
    match state.store.set_email(&link.user_id, &link.email, now).await {
        Ok(()) => {}
        // Two accounts raced for one address: the database picked the other.
        Err(e) if store::is_unique_violation(&e) => {
            return Ok(state.pages.error(
                StatusCode::CONFLICT,
                "Address not available",
                "That address now belongs to another account.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // Links sent to the old address (resets, confirmations) are bound to it and now dead.
    state.store.drop_email_tokens(&link.user_id).await?;
    tracing::info!(user_id = %link.user_id, "email changed");
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
    Ok(
        match forms::link_button_page(&state, &headers, "email_revert", &token, texts).await? {
            Some(page) => page,
            None => state.pages.error(
                StatusCode::BAD_REQUEST,
                "This link has expired",
                "It was already used, or is more than seven days old.",
            ),
        },
    )
}

/// `POST /account/email/revert`: the address goes back, and everything the person who
/// changed it could hold ends: sessions, grants, links and the password itself. A reset
/// link to the restored address lets the owner in again.
pub async fn revert_email(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(forms::refused(&state));
    }
    let now = state.clock.now();
    let token = params.get("token").unwrap_or_default();
    let Some(link) = state
        .store
        .take_email_token(&secrets::digest(token), "email_revert", now)
        .await?
    else {
        return Ok(state.pages.error(
            StatusCode::BAD_REQUEST,
            "This link has expired",
            "It was already used, or is more than seven days old.",
        ));
    };
    match state.store.set_email(&link.user_id, &link.email, now).await {
        Ok(()) => {}
        Err(e) if store::is_unique_violation(&e) => {
            return Ok(state.pages.error(
                StatusCode::CONFLICT,
                "Address not available",
                "That address now belongs to another account. Contact the operator of this service.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.store.clear_password(&link.user_id, now).await?;
    after_password_change(&state, &link.user_id, Afterwards::EndEverything).await?;
    let Some(account) = state.store.account_by_id(&link.user_id).await? else {
        return Ok(forms::refused(&state));
    };
    super::mail::link_in_notice(
        &state,
        super::mail::Link {
            user_id: &account.id,
            name: &account.given_name,
            to: &account.email,
            purpose: "reset",
            path: "/reset",
            ttl: super::forms::RESET_TTL,
            request_id: None,
            browser_hash: None,
            template: "reset",
            label: "Choose a new password",
        },
        context! {},
    )
    .await?;
    tracing::warn!(user_id = %account.id, "email change undone from the old address; sessions, grants and password cleared");
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

pub async fn change_password(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, session, account, params| async move {
        if let Err(e) = password_ok(&state, ip, &account, &params).await? {
            return Ok(Err(e));
        }
        let new_password = match forms::new_password(&state, &account, &params) {
            Ok(password) => password,
            Err(e) => return Ok(Err(e)),
        };
        let hash = state.hasher.hash(new_password).await?;
        state
            .store
            .set_password_hash(&account.id, &hash, state.clock.now())
            .await?;
        // Ending everything else is the default: a password changed because it was stolen
        // must cut the thief off, offline refresh tokens included.
        let keep_others = params.get("keep_others").is_some();
        let afterwards = match keep_others {
            true => Afterwards::KeepSessions,
            false => Afterwards::EndAllBut(&session.id),
        };
        after_password_change(&state, &account.id, afterwards).await?;
        super::mail::notice(
            &state,
            &account.email,
            "password_changed",
            context! { name => account.given_name },
        )
        .await?;
        Ok(Ok(match keep_others {
            true => "Password changed. Your other sessions stay signed in.".into(),
            false => "Password changed. Your other sessions and apps with offline access were signed out.".into(),
        }))
    })
    .await
}

/// How recent a sign-in must be to end other sessions.
const FRESH_SIGN_IN_SECS: i64 = 15 * 60;

/// Ends one session of the user (`session_id`), or every other one when none is named.
pub async fn end_other_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, session, account, params| async move {
        // A stolen session cookie must not be able to throw the owner out (checklist D7).
        if state.clock.now() - session.auth_time > FRESH_SIGN_IN_SECS {
            return Ok(Err(
                "For your security, ending sessions needs a recent sign-in. Sign in again, then try once more.".into(),
            ));
        }
        let ended: Vec<SessionRow> = match params.get("session_id") {
            Some(id) if id != session.id => {
                let all = state.store.user_sessions(&account.id, state.clock.now()).await?;
                let Some(target) = all.into_iter().find(|s| s.id == id) else {
                    return Ok(Err("That session has already ended.".into()));
                };
                state.store.end_session_by_id(&account.id, &target.id).await?;
                vec![target]
            }
            Some(_) => return Ok(Err("Use Sign out to end this session.".into())),
            None => {
                let ended = state.store.end_user_sessions(&account.id, Some(&session.id)).await?;
                // Everywhere else includes apps that stay signed in with offline access.
                let apps = state
                    .store
                    .revoke_offline_grants(&account.id, Some(&session.id), state.clock.now())
                    .await?;
                tracing::info!(user_id = %account.id, offline_grants = apps, "signed out everywhere else");
                ended
            }
        };
        crate::sessions::ended(&state, &ended).await?;
        Ok(Ok(format!("Signed out of {} other session(s).", ended.len())))
    })
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let (session, account) = match signed_in(&state, &headers).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    if let Err(e) = password_ok(&state, ip, &account, &params).await? {
        return page(&state, &session, &account, StatusCode::BAD_REQUEST, None, Some(&e)).await;
    }
    let now = state.clock.now();
    // Tell the apps before the rows they are derived from disappear.
    let open = state.store.user_sessions(&account.id, now).await?;
    crate::sessions::ended(&state, &open).await?;
    super::mail::notice(
        &state,
        &account.email,
        "account_deleted",
        context! { name => account.given_name },
    )
    .await?;
    state.store.delete_account(&account.id).await?;
    tracing::info!(user_id = %account.id, "account deleted");
    let clear = sessions::end(&state, &headers).await?;
    let mut response = forms::message(
        &state,
        &headers,
        StatusCode::OK,
        context! { title => "Account deleted", message => "Your account and personal data are gone, and every app was signed out." },
    );
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}
