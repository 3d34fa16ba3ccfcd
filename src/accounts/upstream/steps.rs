//! What a proven upstream identity may still need before it signs in: a username for a
//! new account, proof of the local account that has its email, or a confirmed address.
//!
//! A proof of the local account (its password, or a link sent to its address) is bound
//! to exactly one (local user, upstream issuer, upstream sub): the emailed link's purpose
//! names the identity, it works only in the browser holding that pending identity, and
//! it is used up by the link it makes (checklist C23).

use super::{browser_hash, complete, expired, problem, Pending, Step};
use crate::accounts::forms::{self, CONFIRM_TTL};
use crate::accounts::lockout::{self, Verdict};
use crate::accounts::mail::{self as account_mail, Link};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::read_form;
use crate::secrets;
use crate::state::AppState;
use crate::store::accounts::NewAccount;
use crate::store::federation::NewIdentity;
use crate::store::{self};
use crate::upstream::Identity;
use crate::users::{identifier_key, validate_name, validate_username, Account};
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

const CONFIRM_PURPOSE: &str = "confirm_upstream";
const LINK_TTL: i64 = 30 * 60;

/// The emailed proof's purpose: linking this one identity.
fn link_purpose(identity: &Identity) -> String {
    format!(
        "link:{}",
        secrets::digest(&format!("{}\n{}", identity.issuer, identity.subject))
    )
}

pub(super) async fn save(state: &AppState, headers: &HeaderMap, pending: &Pending) -> Result<(), AppError> {
    let Some(browser) = browser_hash(state, headers) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a pending identity needs the upstream cookie"
        )));
    };
    let json = serde_json::to_string(pending).map_err(|e| AppError::Internal(e.into()))?;
    let now = state.clock.now();
    state
        .store
        .save_pending(&browser, &json, now + super::PENDING_TTL)
        .await?;
    Ok(())
}

async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Pending>, AppError> {
    let Some(browser) = browser_hash(state, headers) else {
        return Ok(None);
    };
    let Some(json) = state.store.pending(&browser, state.clock.now()).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&json).ok())
}

/// Uses the pending identity up: of two tabs finishing at once, one wins.
async fn take(state: &AppState, headers: &HeaderMap) -> Result<bool, AppError> {
    let Some(browser) = browser_hash(state, headers) else {
        return Ok(false);
    };
    Ok(state.store.take_pending(&browser, state.clock.now()).await?.is_some())
}

fn provider_name(state: &AppState, upstream_id: &str) -> String {
    state
        .upstreams
        .get(upstream_id)
        .map(|p| p.config.name.clone())
        .unwrap_or_else(|| upstream_id.to_string())
}

/// A free username suggested from the email's local part.
async fn suggest_username(state: &AppState, email: &str) -> Result<String, AppError> {
    let base: String = email
        .split('@')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(24)
        .collect();
    let base = if base.chars().count() < 3 {
        format!("user{base}")
    } else {
        base
    };
    for n in 0..20u32 {
        let candidate = if n == 0 {
            base.clone()
        } else {
            format!("{base}{}", n + 1)
        };
        if state.store.account_by_identifier(&candidate).await?.is_none() {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}{}", &secrets::random_id()[..6]))
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    pending: &Pending,
    status: StatusCode,
    username: Option<String>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let provider = provider_name(state, &pending.upstream_id);
    let email = pending.identity.email.clone().unwrap_or_default();
    Ok(match &pending.step {
        Step::Username => {
            let username = match username {
                Some(u) => u,
                None => suggest_username(state, &email).await?,
            };
            forms::anonymous_page(
                state,
                headers,
                status,
                "upstream_username.html",
                context! { provider, email, username, error },
            )
        }
        Step::Link { user_id } => {
            let Some(account) = state.store.account_by_id(user_id).await? else {
                return Ok(expired(state, headers));
            };
            forms::anonymous_page(
                state,
                headers,
                status,
                "upstream_link.html",
                context! { provider, email => account.email, has_password => account.password_hash.is_some(), error },
            )
        }
    })
}

/// `GET /login/upstream/continue`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    match load(&state, &headers).await? {
        Some(pending) => render(&state, &headers, &pending, StatusCode::OK, None, None).await,
        None => Ok(expired(&state, &headers)),
    }
}

/// `POST /login/upstream/username`: creates the account from the upstream's claims.
pub async fn username(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(pending) = load(&state, &headers)
        .await?
        .filter(|p| matches!(p.step, Step::Username))
    else {
        return Ok(expired(&state, &headers));
    };
    let typed = params.get("username").unwrap_or_default().trim().to_string();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return render(
            &state,
            &headers,
            &pending,
            StatusCode::FORBIDDEN,
            Some(typed),
            Some(forms::FORM_EXPIRED),
        )
        .await;
    }
    let username = match validate_username(&typed) {
        Ok(u) => u,
        Err(e) => {
            return render(
                &state,
                &headers,
                &pending,
                StatusCode::BAD_REQUEST,
                Some(typed),
                Some(e),
            )
            .await
        }
    };
    let identity = &pending.identity;
    let email = identity.email.clone().unwrap_or_default();
    let now = state.clock.now();
    // An unconfirmed sign-up past the link's lifetime gives the address back, as on /signup.
    state
        .store
        .delete_unverified(&identifier_key(&email), now, CONFIRM_TTL)
        .await?;
    let id = secrets::random_id();
    let name = |raw: &str| validate_name(raw).unwrap_or_default();
    let (given_name, family_name) = (name(&identity.given_name), name(&identity.family_name));
    let account = NewAccount {
        id: &id,
        username: &username,
        email: &email,
        email_verified: identity.email_verified,
        given_name: &given_name,
        family_name: &family_name,
        password_hash: "",
    };
    let link = NewIdentity {
        id: &secrets::random_id(),
        issuer: &identity.issuer,
        subject: &identity.subject,
        user_id: &id,
        upstream_id: &pending.upstream_id,
        email: &email,
    };
    match state.store.create_linked_account(&account, &link, now).await {
        Ok(()) => {}
        Err(e) if store::is_unique_violation(&e) => {
            if state.store.account_by_identifier(&username).await?.is_some() {
                let error = "That username is taken. Try another.";
                return render(
                    &state,
                    &headers,
                    &pending,
                    StatusCode::BAD_REQUEST,
                    Some(typed),
                    Some(error),
                )
                .await;
            }
            // The address (an unconfirmed sign-up still in its grace period) or the
            // identity itself (another tab) was taken meanwhile.
            return Ok(problem(
                &state,
                &headers,
                StatusCode::CONFLICT,
                "This account can't be created right now",
                "An account with this email address is waiting for its confirmation. Try again later, or sign in another way.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let _ = take(&state, &headers).await?;
    tracing::info!(user_id = %id, upstream = %pending.upstream_id, email_verified = identity.email_verified, "signed up through upstream");
    let event = Event::new(Action::SignUp)
        .actor(&id)
        .detail(format!("fed:{}", pending.upstream_id));
    audit::record(&state, ip.0, &headers, event).await;
    if !identity.email_verified {
        let Some(account) = state.store.account_by_id(&id).await? else {
            return Ok(expired(&state, &headers));
        };
        return confirm_email(
            &state,
            &headers,
            &account,
            &pending.upstream_id,
            pending.request_id.as_deref(),
        )
        .await;
    }
    complete(
        &state,
        (ip, &headers),
        &id,
        &pending.upstream_id,
        pending.request_id,
        pending.return_to,
        false,
    )
    .await
}

/// The upstream did not vouch for the address: it is confirmed by a link, opened in this
/// browser, before the account signs in.
pub(super) async fn confirm_email(
    state: &AppState,
    headers: &HeaderMap,
    account: &Account,
    upstream_id: &str,
    request_id: Option<&str>,
) -> Result<Response, AppError> {
    let Some(browser) = browser_hash(state, headers) else {
        return Ok(expired(state, headers));
    };
    account_mail::link(
        state,
        Link {
            user_id: &account.id,
            name: &account.given_name,
            to: &account.email,
            purpose: CONFIRM_PURPOSE,
            path: "/login/upstream/confirm",
            ttl: CONFIRM_TTL,
            request_id,
            browser_hash: Some(&browser),
            template: "confirm",
            label: "Confirm my email",
        },
        context! {},
    )
    .await?;
    let provider = provider_name(state, upstream_id);
    Ok(forms::message(
        state,
        headers,
        StatusCode::OK,
        context! {
            title => "Confirm your email",
            message => format!("{provider} did not confirm {} for us, so we sent a link there. Open it in this browser to finish.", account.email),
        },
    ))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /login/upstream/confirm?token=`: the address of a new upstream account confirmed.
pub async fn confirmed(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let digest = secrets::digest(q.token.as_deref().unwrap_or_default());
    let Some(link) = state.store.peek_email_token(&digest, CONFIRM_PURPOSE, now).await? else {
        return Ok(expired(&state, &headers));
    };
    // Checked before the token is used up, so a mail scanner or another browser spends nothing.
    if link.browser_hash.is_none() || link.browser_hash != browser_hash(&state, &headers) {
        return Ok(problem(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "Open this link in the browser you signed up in",
            "For your security this link works only in the browser where the sign-up began. If you did not sign up, ignore the email: the account is removed unless confirmed.",
        ));
    }
    let Some(link) = state.store.take_email_token(&digest, CONFIRM_PURPOSE, now).await? else {
        return Ok(expired(&state, &headers));
    };
    if !state.store.set_email_verified(&link.user_id, &link.email, now).await? {
        return Ok(expired(&state, &headers));
    }
    let event = Event::new(Action::EmailConfirmed).actor(&link.user_id);
    audit::record(&state, ip.0, &headers, event).await;
    let identity = state.store.identities_of(&link.user_id).await?.into_iter().next();
    // By issuer: the upstream's id may have been renamed since the link was made.
    let upstream_id = identity
        .map(|i| match state.upstreams.by_issuer(&i.issuer) {
            Some(provider) => provider.config.id.clone(),
            None => i.upstream_id,
        })
        .unwrap_or_default();
    complete(
        &state,
        (ip, &headers),
        &link.user_id,
        &upstream_id,
        link.request_id,
        None,
        false,
    )
    .await
}

/// Links the identity to `account` and tells its owner.
pub(super) async fn link(
    state: &AppState,
    account: &Account,
    upstream_id: &str,
    identity: &Identity,
) -> Result<bool, AppError> {
    let new = NewIdentity {
        id: &secrets::random_id(),
        issuer: &identity.issuer,
        subject: &identity.subject,
        user_id: &account.id,
        upstream_id,
        email: identity.email.as_deref().unwrap_or_default(),
    };
    match state.store.link_identity(&new, state.clock.now()).await {
        Ok(()) => {}
        Err(e) if store::is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %account.id, upstream = %upstream_id, "upstream identity linked");
    account_mail::notice(
        state,
        &account.email,
        "identity_linked",
        context! { name => account.given_name, provider => provider_name(state, upstream_id) },
    )
    .await?;
    Ok(true)
}

/// Finishes a proven link: single-use, then signed in.
async fn link_and_sign_in(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    pending: Pending,
    account: &Account,
) -> Result<Response, AppError> {
    if !take(state, headers).await? || !link(state, account, &pending.upstream_id, &pending.identity).await? {
        return Ok(expired(state, headers));
    }
    complete(
        state,
        (ip, headers),
        &account.id,
        &pending.upstream_id,
        pending.request_id,
        pending.return_to,
        false,
    )
    .await
}

/// The local account a pending link is for, if it is still confirmed.
async fn link_target(state: &AppState, pending: &Pending) -> Result<Option<Account>, AppError> {
    let Step::Link { user_id } = &pending.step else {
        return Ok(None);
    };
    Ok(state
        .store
        .account_by_id(user_id)
        .await?
        .filter(|a| a.email_verified != 0))
}

/// A posted form of the link step: its fields, the pending identity and the confirmed
/// local account it is for; or the page to answer instead (expired, or a stale form).
async fn link_form(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Result<(crate::http::Params, Pending, Account), Response>, AppError> {
    let params = read_form(headers, body).await.unwrap_or_default();
    let Some(pending) = load(state, headers).await? else {
        return Ok(Err(expired(state, headers)));
    };
    let Some(account) = link_target(state, &pending).await? else {
        return Ok(Err(expired(state, headers)));
    };
    if !forms::anonymous_form_ok(state, headers, &params) {
        let page = render(
            state,
            headers,
            &pending,
            StatusCode::FORBIDDEN,
            None,
            Some(forms::FORM_EXPIRED),
        )
        .await?;
        return Ok(Err(page));
    }
    Ok(Ok((params, pending, account)))
}

/// `POST /login/upstream/link`: proof by the local account's password.
pub async fn link_with_password(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    // The login page's per-IP limit too: each attempt costs an argon2 hash.
    if let Err(limited) = forms::limit(&state, ip, "login") {
        return Ok(*limited);
    }
    let (params, pending, account) = match link_form(&state, &headers, body).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let password = params.get("password").unwrap_or_default();
    // The login page's lockout, on the same account: linking is no side door for guessing.
    match lockout::verify(&state, &account.username, password, account.password_hash.as_deref()).await? {
        Verdict::Correct => link_and_sign_in(&state, ip, &headers, pending, &account).await,
        Verdict::Wrong => {
            let error = "That password is not correct.";
            render(&state, &headers, &pending, StatusCode::UNAUTHORIZED, None, Some(error)).await
        }
        Verdict::Locked(minutes) => {
            let error = format!("Too many failed attempts. Try again in {minutes} minute(s), or use the emailed link.");
            render(
                &state,
                &headers,
                &pending,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                Some(&error),
            )
            .await
        }
    }
}

/// `POST /login/upstream/link/email`: proof by a link sent to the local account's address.
pub async fn link_by_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (_, pending, account) = match link_form(&state, &headers, body).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let Some(browser) = browser_hash(&state, &headers) else {
        return Ok(expired(&state, &headers));
    };
    let provider = provider_name(&state, &pending.upstream_id);
    account_mail::link(
        &state,
        Link {
            user_id: &account.id,
            name: &account.given_name,
            to: &account.email,
            purpose: &link_purpose(&pending.identity),
            path: "/login/upstream/link/confirm",
            ttl: LINK_TTL,
            request_id: None,
            browser_hash: Some(&browser),
            template: "link_identity",
            label: "Link my account",
        },
        context! { provider => provider.clone() },
    )
    .await?;
    Ok(forms::message(
        &state,
        &headers,
        StatusCode::OK,
        context! {
            title => "Check your email",
            message => format!("We sent a link to {}. Open it in this browser within 30 minutes to link {provider} to your account.", account.email),
        },
    ))
}

/// `GET /login/upstream/link/confirm?token=`: the emailed proof, in the browser that asked.
pub async fn link_confirmed(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some(pending) = load(&state, &headers).await? else {
        return Ok(expired(&state, &headers));
    };
    let Some(account) = link_target(&state, &pending).await? else {
        return Ok(expired(&state, &headers));
    };
    let digest = secrets::digest(q.token.as_deref().unwrap_or_default());
    let purpose = link_purpose(&pending.identity);
    let proof = state.store.peek_email_token(&digest, &purpose, now).await?;
    let bound = proof.is_some_and(|p| p.user_id == account.id && p.browser_hash == browser_hash(&state, &headers));
    if !bound {
        tracing::info!(user_id = %account.id, "link proof refused: not for this identity, account or browser");
        return Ok(expired(&state, &headers));
    }
    if state.store.take_email_token(&digest, &purpose, now).await?.is_none() {
        return Ok(expired(&state, &headers));
    }
    link_and_sign_in(&state, ip, &headers, pending, &account).await
}
