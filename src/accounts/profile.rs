//! The signed-in account page: names and username, password change, other sessions,
//! and deletion (the email change is `email_change`). Every change is a POST carrying the
//! session's CSRF token; sensitive ones ask for the current password again.

use super::forms;
use super::lockout::{self, Verdict};
use super::recovery::{after_password_change, Afterwards};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::found;
use crate::http::{read_form, Params};
use crate::sessions;
use crate::state::AppState;
use crate::store::{self, sessions::SessionRow};
use crate::users::{validate_name, validate_username, Account};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

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
        phone_number => account.contact.phone_number, street_address => account.contact.street_address,
        locality => account.contact.locality, region => account.contact.region,
        postal_code => account.contact.postal_code, country => account.contact.country,
    };
    let sign_in = super::upstream::methods::page_context(state, account).await?;
    let fresh = now - session.auth_time <= FRESH_SIGN_IN_SECS;
    let activity = super::activity::recent(state, &account.id).await;
    Ok(state.pages.render(
        status,
        "account.html",
        context! { user, sessions, offline_apps, activity, notice, error, sign_in, fresh, csrf_token => session.csrf_token },
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
pub(super) async fn with_form<F, Fut>(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    action: F,
) -> Result<Response, AppError>
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
/// the login page: a session cannot saturate the hasher or guess past the lockout. An
/// account without a password (it signs in through an upstream) proves itself with a
/// fresh sign-in there instead.
pub(super) async fn password_ok(
    state: &AppState,
    ip: ClientIp,
    session: &SessionRow,
    account: &Account,
    params: &Params,
) -> Result<Result<(), String>, AppError> {
    if account.password_hash.is_none() {
        return Ok(match state.clock.now() - session.auth_time <= FRESH_SIGN_IN_SECS {
            true => Ok(()),
            false => Err("For your security, confirm it's you first: use \"Confirm it's you\" under Sign-in methods, then try again within 15 minutes.".into()),
        });
    }
    if state.limiter.check("password", ip.0, state.clock.now()).is_err() {
        state.metrics.rate_limited.with_label_values(&["password"]).inc();
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

pub async fn change_password(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let seen = headers.clone();
    with_form(state, headers, body, |state, session, account, params| async move {
        if let Err(e) = password_ok(&state, ip, &session, &account, &params).await? {
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
        let event = Event::new(Action::PasswordChanged).actor(&account.id);
        audit::record(&state, ip.0, &seen, event).await;
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

/// How recent a sign-in must be to end other sessions or link another sign-in method.
pub(crate) const FRESH_SIGN_IN_SECS: i64 = 15 * 60;

/// Ends one session of the user (`session_id`), or every other one when none is named.
pub async fn end_other_sessions(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let seen = headers.clone();
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
        let event = Event::new(Action::SessionsEnded)
            .actor(&account.id)
            .detail(ended.len().to_string());
        audit::record(&state, ip.0, &seen, event).await;
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
    if let Err(e) = password_ok(&state, ip, &session, &account, &params).await? {
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
    let event = Event::new(Action::AccountDeleted).actor(&account.id);
    audit::record(&state, ip.0, &headers, event).await;
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
