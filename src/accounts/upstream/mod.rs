//! Sign-in through an upstream provider ("Continue with Google"): the button, the trip to
//! the provider and back, and what the proven identity leads to. An identity already
//! linked signs in; anything else becomes a pending step (`steps`) in this browser.
//!
//! Everything is bound to the browser by one cookie, made fresh for each trip and kept
//! only as a digest in the database: the `state`, nonce and PKCE verifier of a trip, and
//! the pending step after it. A callback, step or emailed link carried to another browser
//! finds nothing.

pub mod account;
pub mod methods;
pub mod steps;

use super::forms;
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::cookies;
use crate::error::AppError;
use crate::http::read_form;
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::upstream::{Identity, Provider, UpstreamError};
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const COOKIE: &str = "gatehouse_upstream";
/// How long a trip to the provider may take, and a pending step may wait.
const TRIP_TTL: i64 = 10 * 60;
const PENDING_TTL: i64 = 30 * 60;

/// Why this browser went to the provider.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub(super) enum Purpose {
    SignIn,
    /// Linking another identity from the account page of this session.
    Link {
        session_id: String,
    },
    /// Proving it is still the user (an account without a password, before a change).
    Reauth {
        session_id: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct TripData {
    verifier: String,
    nonce: String,
    purpose: Purpose,
    request_id: Option<String>,
    return_to: Option<String>,
    started_at: i64,
}

/// What a pending identity waits for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub(super) enum Step {
    /// A new account: only a username is missing.
    Username,
    /// A confirmed local account has this email: its owner must prove it is theirs.
    Link { user_id: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Pending {
    pub upstream_id: String,
    pub identity: Identity,
    pub request_id: Option<String>,
    pub return_to: Option<String>,
    pub step: Step,
}

pub(super) fn cookie_name(state: &AppState) -> String {
    sessions::cookie_name(&state.config, COOKIE)
}

/// The digest of this browser's upstream cookie.
pub(super) fn browser_hash(state: &AppState, headers: &HeaderMap) -> Option<String> {
    cookies::read(headers, &cookie_name(state)).map(|v| secrets::digest(&v))
}

fn set_cookie(state: &AppState, value: &str, max_age: Option<i64>) -> Result<HeaderValue, AppError> {
    let scope = cookies::Scope {
        path: "/",
        // Lax: the provider's redirect back is a top-level cross-site GET.
        same_site: cookies::SameSite::Lax,
        secure: state.config.is_https(),
    };
    cookies::set(&cookie_name(state), value, &scope, max_age)
}

/// A page about the upstream sign-in with a way back to the login page.
pub(super) fn problem(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    forms::message(
        state,
        headers,
        status,
        context! { title, message, link => "/login", link_label => "Back to sign in" },
    )
}

pub(super) fn expired(state: &AppState, headers: &HeaderMap) -> Response {
    problem(
        state,
        headers,
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "It took too long, was already used, or was started in another browser. Start again from the sign-in page.",
    )
}

fn unreachable(state: &AppState, headers: &HeaderMap, provider: &Provider) -> Response {
    problem(
        state,
        headers,
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{} is not reachable right now", provider.config.name),
        "Try again in a few minutes, or sign in another way.",
    )
}

fn unknown(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::NOT_FOUND,
        "Unknown sign-in provider",
        "This way of signing in is not offered here.",
    )
}

/// The buttons for the login and signup pages.
pub fn buttons(state: &AppState) -> Vec<minijinja::Value> {
    state
        .upstreams
        .all()
        .iter()
        .map(|p| context! { id => p.config.id, name => p.config.name })
        .collect()
}

/// `POST /login/upstream/{id}`: the "Continue with …" button.
pub async fn start(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let Some(provider) = state.upstreams.get(&id) else {
        return Ok(unknown(&state));
    };
    if let Err(limited) = forms::limit(&state, ip, "upstream") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(problem(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            "This form has expired",
            forms::FORM_EXPIRED,
        ));
    }
    let request_id = forms::live_request(&state, params.get("request_id")).await?;
    let return_to = forms::validated_return_to(&state, params.get("return_to")).await?;
    go(&state, &headers, &provider, Purpose::SignIn, request_id, return_to).await
}

/// Sends the browser to the provider, remembering the trip under a fresh cookie.
pub(super) async fn go(
    state: &AppState,
    headers: &HeaderMap,
    provider: &Provider,
    purpose: Purpose,
    request_id: Option<String>,
    return_to: Option<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let trip_state = secrets::random_token();
    let reauth = matches!(purpose, Purpose::Reauth { .. });
    let trip = match provider.start(now, &trip_state, reauth).await {
        Ok(trip) => trip,
        Err(e) => {
            tracing::warn!(upstream = %provider.config.id, error = %e, "upstream sign-in could not start");
            return Ok(unreachable(state, headers, provider));
        }
    };
    let cookie = secrets::random_token();
    let data = TripData {
        verifier: trip.verifier,
        nonce: trip.nonce,
        purpose,
        request_id,
        return_to,
        started_at: now,
    };
    let json = serde_json::to_string(&data).map_err(|e| AppError::Internal(e.into()))?;
    state
        .store
        .save_trip(
            &secrets::digest(&trip_state),
            &secrets::digest(&cookie),
            &provider.config.id,
            &json,
            now + TRIP_TTL,
        )
        .await?;
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, trip.url.to_string())]).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(state, &cookie, None)?);
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /login/upstream/{id}/callback`: the provider sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let Some(provider) = state.upstreams.get(&id) else {
        return Ok(unknown(&state));
    };
    let now = state.clock.now();
    let (Some(browser), Some(sent_state)) = (browser_hash(&state, &headers), query.state.as_deref()) else {
        tracing::info!(upstream = %id, "upstream callback without its cookie or state");
        return Ok(expired(&state, &headers));
    };
    let Some(json) = state
        .store
        .take_trip(&secrets::digest(sent_state), &browser, &id, now)
        .await?
    else {
        tracing::info!(upstream = %id, "upstream callback for no live trip of this browser (replayed, expired or foreign)");
        return Ok(expired(&state, &headers));
    };
    let trip: TripData = serde_json::from_str(&json).map_err(|e| AppError::Internal(e.into()))?;
    let outcome = match (query.error.as_deref(), query.code.as_deref()) {
        (Some("access_denied"), _) => Err(UpstreamError::Denied),
        (Some(other), _) => Err(UpstreamError::Refused(other.chars().take(64).collect())),
        (None, None) => Err(UpstreamError::Refused("no code".into())),
        (None, Some(code)) => {
            let since = matches!(trip.purpose, Purpose::Reauth { .. }).then_some(trip.started_at);
            provider.finish(now, code, &trip.verifier, &trip.nonce, since).await
        }
    };
    let identity = match outcome {
        Ok(identity) if !identity.subject.is_empty() => identity,
        Ok(_) => {
            return Ok(failed(
                &state,
                &headers,
                &provider,
                UpstreamError::BadToken("no sub".into()),
            ))
        }
        Err(e) => return Ok(failed(&state, &headers, &provider, e)),
    };
    match trip.purpose {
        Purpose::SignIn => {
            sign_in(
                &state,
                ip,
                &headers,
                &provider,
                identity,
                trip.request_id,
                trip.return_to,
            )
            .await
        }
        Purpose::Link { session_id } => account::linked(&state, &headers, &provider, &identity, &session_id).await,
        Purpose::Reauth { session_id } => account::reauthenticated(&state, &headers, &identity, &session_id).await,
    }
}

fn failed(state: &AppState, headers: &HeaderMap, provider: &Provider, error: UpstreamError) -> Response {
    let name = &provider.config.name;
    // The reason goes to the log (never a token or code); the user gets a plain sentence.
    tracing::warn!(upstream = %provider.config.id, error = %error, "upstream sign-in failed");
    state.metrics.sign_in("upstream", "failure");
    match error {
        UpstreamError::Unreachable(_) => unreachable(state, headers, provider),
        UpstreamError::Denied => problem(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            "Sign-in cancelled",
            &format!("You cancelled signing in with {name}. You can try again, or sign in another way."),
        ),
        UpstreamError::Refused(_) => problem(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            &format!("{name} did not sign you in"),
            "Try again, or sign in another way.",
        ),
        UpstreamError::BadToken(_) => problem(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            &format!("We could not verify the answer from {name}"),
            "Nobody was signed in. Try again; if it keeps happening, tell the site's administrators.",
        ),
    }
}

/// A proven identity, for a sign-in: signs in if it is linked, else asks for the next step.
async fn sign_in(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    provider: &Arc<Provider>,
    identity: Identity,
    request_id: Option<String>,
    return_to: Option<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    // Two factors upstream count here only where the operator said to believe its `amr`.
    let trusted_mfa = provider.config.trust_amr && identity.upstream_mfa;
    let upstream_email = identity.email.clone().unwrap_or_default();
    if let Some(linked) = state.store.identity(&identity.issuer, &identity.subject).await? {
        // Keyed by (issuer, sub): a changed address upstream is noted, and moves nothing.
        state.store.identity_used(&linked.id, &upstream_email, now).await?;
        let Some(account) = state.store.account_by_id(&linked.user_id).await? else {
            return Ok(expired(state, headers));
        };
        if account.email_verified == 0 {
            return steps::confirm_email(state, headers, &account, &provider.config.id, request_id.as_deref()).await;
        }
        return complete(
            state,
            (ip, headers),
            &account.id,
            &provider.config.id,
            request_id,
            return_to,
            trusted_mfa,
        )
        .await;
    }
    let Some(email) = identity.email.clone() else {
        return Ok(problem(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            &format!("{} did not share your email address", provider.config.name),
            "An account needs an email address. Allow sharing it there, or sign up with a password.",
        ));
    };
    let local = state.store.account_by_identifier(&email).await?;
    let step = match local {
        Some(account) if account.email_verified != 0 => {
            if provider.config.auto_link && identity.email_verified {
                steps::link(state, &account, &provider.config.id, &identity).await?;
                return complete(
                    state,
                    (ip, headers),
                    &account.id,
                    &provider.config.id,
                    request_id,
                    return_to,
                    trusted_mfa,
                )
                .await;
            }
            Step::Link { user_id: account.id }
        }
        // A sign-up whose address was never confirmed is never linked to (checklist C5,
        // C20): the address's proven owner replaces it; otherwise it keeps its usual grace.
        Some(unconfirmed) => {
            if identity.email_verified {
                state.store.delete_if_unverified(&unconfirmed.id).await?;
            }
            Step::Username
        }
        None => Step::Username,
    };
    let pending = Pending {
        upstream_id: provider.config.id.clone(),
        identity,
        request_id,
        return_to,
        step,
    };
    steps::save(state, headers, &pending).await?;
    Ok(crate::http::found("/login/upstream/continue"))
}

/// Signs `user_id` in through the upstream and continues where the user was going.
pub(super) async fn complete(
    state: &AppState,
    (ip, headers): (ClientIp, &HeaderMap),
    user_id: &str,
    upstream_id: &str,
    request_id: Option<String>,
    return_to: Option<String>,
    mfa: bool,
) -> Result<Response, AppError> {
    let request_id = forms::live_request(state, request_id.as_deref()).await?;
    tracing::info!(%user_id, upstream = %upstream_id, "login through upstream");
    let event = Event::new(Action::SignIn).actor(user_id);
    audit::record(state, ip.0, headers, event.detail(format!("fed:{upstream_id}"))).await;
    let first = sessions::First::Upstream { id: upstream_id, mfa };
    // Second-factor failures after an upstream sign-in count against the username's lockout.
    let username = state
        .store
        .account_by_id(user_id)
        .await?
        .map(|a| a.username)
        .unwrap_or_default();
    let mut response = crate::accounts::second_factor::after_first_factor(
        state, headers, user_id, &username, first, request_id, return_to,
    )
    .await?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(state, "", Some(0))?);
    Ok(response)
}
