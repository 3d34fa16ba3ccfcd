//! The hosted sign-in and sign-out pages, and the signed-in landing page.
//!
//! Login answers the same way, after the same argon2 work, whether the account is unknown
//! or the password wrong. A successful login always starts a new session.

use super::forms::{self, FORM_EXPIRED};
use super::lockout;
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::read_form;
use crate::oauth::authorize::AuthorizeRequest;
use crate::sessions;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

const BAD_CREDENTIALS: &str = "Incorrect username or email, or password.";

#[derive(Deserialize)]
pub struct LoginQuery {
    request_id: Option<String>,
    return_to: Option<String>,
}

/// The request being signed in for, if any: its client's name and login_hint.
struct Pending {
    id: String,
    client_name: String,
    login_hint: Option<String>,
}

async fn pending(state: &AppState, request_id: Option<&str>) -> Result<Option<Pending>, AppError> {
    let Some(id) = request_id.filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let Some((json, _, _)) = state.store.parked_request(id, state.clock.now()).await? else {
        return Ok(None);
    };
    let request: AuthorizeRequest =
        serde_json::from_str(&json).map_err(|e| anyhow::anyhow!("unreadable parked request: {e}"))?;
    let client_name = state
        .store
        .client(&request.client_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok(Some(Pending {
        id: id.to_string(),
        client_name,
        login_hint: request.login_hint,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let pending = pending(&state, query.request_id.as_deref()).await?;
    if query.request_id.is_some() && pending.is_none() {
        return Ok(expired(&state));
    }
    let identifier = pending.as_ref().and_then(|p| p.login_hint.clone()).unwrap_or_default();
    let return_to = forms::validated_return_to(&state, query.return_to.as_deref()).await?;
    let page = LoginPage {
        pending: pending.as_ref(),
        return_to: return_to.as_deref(),
        identifier: &identifier,
    };
    Ok(page.render(&state, &headers, StatusCode::OK, None))
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(limited) = forms::limit(&state, ip, "login") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let pending = pending(&state, params.get("request_id")).await?;
    if params.get("request_id").is_some() && pending.is_none() {
        return Ok(expired(&state));
    }
    let identifier = params.get("identifier").unwrap_or_default().trim().to_string();
    let return_to = forms::validated_return_to(&state, params.get("return_to")).await?;
    let return_to = return_to.as_deref();
    let page = LoginPage {
        pending: pending.as_ref(),
        return_to,
        identifier: &identifier,
    };
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(page.render(&state, &headers, StatusCode::FORBIDDEN, Some(FORM_EXPIRED)));
    }
    // Per-identifier backoff, kept for unknown identifiers too so it reveals nothing.
    let now = state.clock.now();
    let password = params.get("password").unwrap_or_default();
    let account = match identifier.chars().count() {
        0 => None,
        n if n > lockout::MAX_IDENTIFIER_CHARS => None,
        _ => state.store.account_by_identifier(&identifier).await?,
    };
    let hash = account.as_ref().and_then(|a| a.password_hash.as_deref());
    // A failure names the account only when one exists; what was typed is never kept.
    let failed = |why: &'static str| {
        let actor = account.as_ref().map(|a| a.id.as_str());
        Event::new(Action::SignInFailed).maybe_actor(actor).detail(why)
    };
    match lockout::verify(&state, &identifier, password, hash).await? {
        lockout::Verdict::Correct => {}
        lockout::Verdict::Locked(minutes) => {
            state.metrics.sign_in("password", "locked");
            audit::record(&state, ip.0, &headers, failed("locked")).await;
            let message =
                format!("Too many failed attempts. Try again in {minutes} minute(s), or reset your password.");
            return Ok(page.render(&state, &headers, StatusCode::TOO_MANY_REQUESTS, Some(&message)));
        }
        lockout::Verdict::Wrong => {
            tracing::info!("failed login");
            state.metrics.sign_in("password", "failure");
            let why = if account.is_some() { "pwd" } else { "unknown_user" };
            audit::record(&state, ip.0, &headers, failed(why)).await;
            return Ok(page.render(&state, &headers, StatusCode::UNAUTHORIZED, Some(BAD_CREDENTIALS)));
        }
    }
    let Some(account) = account else {
        audit::record(&state, ip.0, &headers, failed("unknown_user")).await;
        return Ok(page.render(&state, &headers, StatusCode::UNAUTHORIZED, Some(BAD_CREDENTIALS)));
    };
    if account.email_verified == 0 {
        // Only someone with the right password learns this.
        return Ok(forms::message(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            context! {
                title => "Confirm your email first",
                message => format!("We sent a link to {} when you signed up. Open it to finish, or ask for a new one.", account.email),
                resend => account.email, request_id => pending.as_ref().map(|p| p.id.clone()),
            },
        ));
    }
    if account
        .password_hash
        .as_deref()
        .is_some_and(|h| state.hasher.needs_rehash(h))
    {
        let fresh = state.hasher.hash(password).await?;
        state.store.set_password_hash(&account.id, &fresh, now).await?;
    }
    tracing::info!(user_id = %account.id, "login");
    // The first factor; a second, if the account has one, is its own `sign_in` event.
    let event = Event::new(Action::SignIn).actor(&account.id).detail("pwd");
    audit::record(&state, ip.0, &headers, event).await;
    super::second_factor::after_first_factor(
        &state,
        &headers,
        &account.id,
        &identifier,
        sessions::First::Password,
        pending.map(|p| p.id),
        return_to.map(str::to_string),
    )
    .await
}

/// The login form, as shown and as re-shown after a failed attempt (keeping what was
/// typed, except the password).
struct LoginPage<'a> {
    pending: Option<&'a Pending>,
    return_to: Option<&'a str>,
    identifier: &'a str,
}

impl LoginPage<'_> {
    fn render(&self, state: &AppState, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
        forms::anonymous_page(
            state,
            headers,
            status,
            "login.html",
            context! {
                request_id => self.pending.map(|p| p.id.clone()),
                client_name => self.pending.map(|p| p.client_name.clone()),
                identifier => self.identifier,
                error,
                return_to => self.return_to,
                signup_enabled => state.config.accounts.signup_enabled,
                upstreams => super::upstream::buttons(state),
                passkeys_enabled => state.webauthn.is_some(),
            },
        )
    }
}

fn expired(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "The sign-in took too long or was already completed. Go back to the app and start again.",
    )
}

/// `GET /`: who is signed in, with a sign-out button.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let session = sessions::current(&state, &headers).await?;
    let (user, csrf_token) = match &session {
        Some(s) => (state.store.account_by_id(&s.user_id).await?, s.csrf_token.clone()),
        None => (None, String::new()),
    };
    let user = user.map(|u| context! { username => u.username, email => u.email, given_name => u.given_name });
    Ok(state
        .pages
        .render(StatusCode::OK, "home.html", context! { user, csrf_token }))
}
