//! Sign up with email confirmation. The answer is the same whether or not the address is
//! already registered (its owner gets an email saying so instead). An account cannot sign
//! in until its address is confirmed; an unconfirmed account never blocks the address's
//! real owner. Confirming signs the user in and continues the app's request, if any.

use super::forms::{self, CONFIRM_TTL};
use super::lockout::{self, Verdict};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::{read_form, Params};
use crate::password;
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::store::email_tokens::EmailToken;
use crate::store::{self, accounts::NewAccount};
use crate::users::{identifier_key, validate_email, validate_name, validate_username};
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeMap;

const FIELDS: &[&str] = &["given_name", "family_name", "username", "email"];
/// How long an unconfirmed account may hold on to its username.
const UNCONFIRMED_GRACE: i64 = 24 * 3600;

#[derive(Deserialize)]
pub struct SignupQuery {
    request_id: Option<String>,
    token: Option<String>,
}

fn disabled(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::NOT_FOUND,
        "Sign-up is closed",
        "New accounts are created by the administrators.",
    )
}

async fn form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    request_id: Option<&str>,
    values: BTreeMap<&str, String>,
    errors: BTreeMap<&str, String>,
) -> Result<Response, AppError> {
    let client_name = match forms::live_request(state, request_id).await? {
        Some(id) => match crate::oauth::authorize::parked(state, &id).await {
            Ok(Some((request, _))) => state.store.client(&request.client_id).await?.map(|c| c.name),
            _ => None,
        },
        None => None,
    };
    Ok(forms::anonymous_page(
        state,
        headers,
        status,
        "signup.html",
        context! {
            request_id, values, errors, client_name,
            min_length => state.config.accounts.password_min_length,
            upstreams => super::upstream::buttons(state),
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignupQuery>,
) -> Result<Response, AppError> {
    if !state.config.accounts.signup_enabled {
        return Ok(disabled(&state));
    }
    form(
        &state,
        &headers,
        StatusCode::OK,
        q.request_id.as_deref(),
        BTreeMap::new(),
        BTreeMap::new(),
    )
    .await
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if !state.config.accounts.signup_enabled {
        return Ok(disabled(&state));
    }
    if let Err(limited) = forms::limit(&state, ip, "signup") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    let request_id = forms::live_request(&state, params.get("request_id")).await?;
    let browser = sessions::browser_binding(&state.config, &headers);
    let values: BTreeMap<&str, String> = FIELDS
        .iter()
        .map(|f| (*f, params.get(f).unwrap_or_default().trim().to_string()))
        .collect();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        let errors = BTreeMap::from([("form", forms::FORM_EXPIRED.to_string())]);
        return form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            request_id.as_deref(),
            values,
            errors,
        )
        .await;
    }
    let (new, errors) = validate(&state, &params, &values);
    let Some((username, email)) = new.filter(|_| errors.is_empty()) else {
        return form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            request_id.as_deref(),
            values,
            errors,
        )
        .await;
    };
    let now = state.clock.now();
    // An account that never proved its address within the link's lifetime gives back both
    // the address and the username (security checklist C5); a younger one keeps them, so a
    // second signup cannot replace someone's pending account with its own password.
    state
        .store
        .delete_unverified(&identifier_key(&email), now, CONFIRM_TTL)
        .await?;
    state
        .store
        .delete_unverified(&identifier_key(&username), now, UNCONFIRMED_GRACE)
        .await?;
    let hash = state.hasher.hash(params.get("password").unwrap_or_default()).await?;
    let id = secrets::random_id();
    let account = NewAccount {
        id: &id,
        username: &username,
        email: &email,
        email_verified: false,
        given_name: &values["given_name"],
        family_name: &values["family_name"],
        password_hash: &hash,
    };
    match state.store.create_account(&account, now).await {
        Ok(()) => {
            send_confirmation(
                &state,
                &id,
                &values["given_name"],
                &email,
                request_id.as_deref(),
                browser.as_deref(),
            )
            .await?;
            tracing::info!(user_id = %id, "signed up; confirmation sent");
            let event = Event::new(Action::SignUp).actor(&id).detail("pwd");
            audit::record(&state, ip.0, &headers, event).await;
        }
        Err(e) if store::is_unique_violation(&e) => {
            // The username is checked first, on its own, so its answer never depends on
            // whether the email is registered.
            let username_taken = state.store.account_by_identifier(&username).await?.is_some();
            let owner = if username_taken {
                None
            } else {
                state.store.account_by_identifier(&email).await?
            };
            match owner {
                // The address is taken: tell its owner, and answer exactly as for a new one.
                Some(owner) => {
                    let login = state.config.url_for("/login");
                    super::mail::unsolicited(
                        &state,
                        &owner.email,
                        "already_registered",
                        context! { name => owner.given_name, link => login, link_label => "Sign in" },
                    )
                    .await?;
                }
                None => {
                    let errors = BTreeMap::from([("username", "That username is taken. Try another.".to_string())]);
                    return form(
                        &state,
                        &headers,
                        StatusCode::BAD_REQUEST,
                        request_id.as_deref(),
                        values,
                        errors,
                    )
                    .await;
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(check_email(&state, &headers, &email, request_id.as_deref()))
}

/// Emails the link that confirms `email` for the account, bound to the browser that asked.
async fn send_confirmation(
    state: &AppState,
    user_id: &str,
    name: &str,
    email: &str,
    request_id: Option<&str>,
    browser: Option<&str>,
) -> Result<(), AppError> {
    super::mail::link(
        state,
        super::mail::Link {
            user_id,
            name,
            to: email,
            purpose: "confirm",
            path: "/signup/confirm",
            ttl: CONFIRM_TTL,
            request_id,
            browser_hash: browser,
            template: "confirm",
            label: "Confirm email address",
        },
        context! {},
    )
    .await
}

/// The answer to every signup and resend: look in your inbox.
fn check_email(state: &AppState, headers: &HeaderMap, email: &str, request_id: Option<&str>) -> Response {
    forms::message(
        state,
        headers,
        StatusCode::OK,
        context! {
            title => "Check your email",
            message => format!("We sent a link to {email}. Open it to confirm your address and finish signing up."),
            resend => email, request_id,
        },
    )
}

type Validated<'a> = (Option<(String, String)>, BTreeMap<&'a str, String>);

fn validate<'a>(state: &AppState, params: &Params, values: &BTreeMap<&'a str, String>) -> Validated<'a> {
    let mut errors = BTreeMap::new();
    for (field, label) in [("given_name", "first name"), ("family_name", "last name")] {
        let value = &values[field];
        if value.is_empty() {
            errors.insert(field, format!("Enter your {label}."));
        } else if let Err(e) = validate_name(value) {
            errors.insert(field, e.to_string());
        }
    }
    let username = validate_username(&values["username"])
        .map_err(|e| errors.insert("username", e.to_string()))
        .ok();
    let email = validate_email(&values["email"])
        .map_err(|e| errors.insert("email", e.to_string()))
        .ok();
    let password = params.get("password").unwrap_or_default();
    let email_local = values["email"].split('@').next().unwrap_or_default();
    let context = [
        values["given_name"].as_str(),
        values["family_name"].as_str(),
        values["username"].as_str(),
        email_local,
        state.config.product_name.as_str(),
        state.config.issuer.host_str().unwrap_or_default(),
    ];
    if let Err(e) = password::check_policy(password, state.config.accounts.password_min_length, &context) {
        errors.insert("password", e);
    } else if params.get("password_confirm") != Some(password) {
        errors.insert("password_confirm", "The passwords do not match.".into());
    }
    (username.zip(email), errors)
}

/// `GET /signup/confirm?token=…`: a button, because a GET (a mail scanner following the
/// link, say) must not change anything. Opened in a browser other than the one that
/// signed up, the page also asks for the password chosen at sign-up: whoever filled in
/// the form chose it, and the address's owner must not confirm, by one click, an account
/// someone else set up with their address (security checklist C5). It offers to cancel
/// that sign-up instead.
pub async fn confirm_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignupQuery>,
) -> Result<Response, AppError> {
    let token = q.token.unwrap_or_default();
    let live = state
        .store
        .peek_email_token(&secrets::digest(&token), "confirm", state.clock.now())
        .await?;
    Ok(match live {
        Some(link) => confirm_form(&state, &headers, &token, !same_browser(&state, &headers, &link), None),
        None => expired_link(&state, &headers),
    })
}

fn same_browser(state: &AppState, headers: &HeaderMap, link: &EmailToken) -> bool {
    link.browser_hash.is_some() && link.browser_hash == sessions::browser_binding(&state.config, headers)
}

fn confirm_form(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    ask_password: bool,
    error: Option<&str>,
) -> Response {
    let message = match ask_password {
        false => "One click and your account is ready.",
        true => "This is not the browser you signed up in. Enter the password you chose to confirm that the sign-up was yours.",
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    forms::anonymous_page(
        state,
        headers,
        status,
        "confirm.html",
        context! {
            title => "Confirm your email", message, action => "/signup/confirm",
            button => "Confirm and continue", token, ask_password, error,
        },
    )
}

pub async fn confirm(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(forms::refused(&state));
    }
    let now = state.clock.now();
    let token = params.get("token").unwrap_or_default();
    let digest = secrets::digest(token);
    let Some(link) = state.store.peek_email_token(&digest, "confirm", now).await? else {
        return Ok(expired_link(&state, &headers));
    };
    let same_browser = same_browser(&state, &headers, &link);
    if !same_browser {
        if params.get("cancel").is_some() {
            return cancel_signup(&state, &headers, &digest, now).await;
        }
        let Some(account) = state.store.account_by_id(&link.user_id).await? else {
            return Ok(expired_link(&state, &headers));
        };
        let given = params.get("password").unwrap_or_default();
        match lockout::verify(&state, &account.username, given, account.password_hash.as_deref()).await? {
            Verdict::Correct => {}
            Verdict::Wrong => {
                let error = "That is not the password chosen at sign-up.";
                return Ok(confirm_form(&state, &headers, token, true, Some(error)));
            }
            Verdict::Locked(minutes) => {
                let error = format!("Too many failed attempts. Try again in {minutes} minute(s).");
                return Ok(confirm_form(&state, &headers, token, true, Some(&error)));
            }
        }
    }
    let Some(link) = state.store.take_email_token(&digest, "confirm", now).await? else {
        return Ok(expired_link(&state, &headers));
    };
    // Bound to the address it was sent to: a changed address makes old links worthless.
    if !state.store.set_email_verified(&link.user_id, &link.email, now).await? {
        return Ok(expired_link(&state, &headers));
    }
    let event = Event::new(Action::EmailConfirmed).actor(&link.user_id);
    audit::record(&state, ip.0, &headers, event).await;
    let request_id = forms::live_request(&state, link.request_id.as_deref()).await?;
    // Only the browser that signed up is signed in by the link; anyone else, having
    // proved the password, signs in as usual.
    if !same_browser {
        let login = match &request_id {
            Some(id) => format!("/login?request_id={id}"),
            None => "/login".to_string(),
        };
        return Ok(forms::message(
            &state,
            &headers,
            StatusCode::OK,
            context! { title => "Email confirmed", message => "Your address is confirmed. Sign in to continue.", link => login, link_label => "Sign in" },
        ));
    }
    let (session, cookie) = sessions::start(
        &state,
        &headers,
        &link.user_id,
        &sessions::SignIn::one(sessions::First::Password),
    )
    .await?;
    if let Some(id) = &request_id {
        state.store.mark_request_signed_in(id, &session.id).await?;
    }
    tracing::info!(user_id = %link.user_id, "email confirmed; signed in");
    let event = Event::new(Action::SignIn).actor(&link.user_id).detail("email_link");
    audit::record(&state, ip.0, &headers, event).await;
    let mut response = crate::http::found(&forms::next_after_login(request_id.as_deref(), None));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The address's owner says the sign-up was not theirs: the pending account goes, and the
/// address and username are free again.
async fn cancel_signup(state: &AppState, headers: &HeaderMap, digest: &str, now: i64) -> Result<Response, AppError> {
    let Some(link) = state.store.take_email_token(digest, "confirm", now).await? else {
        return Ok(expired_link(state, headers));
    };
    if state.store.delete_if_unverified(&link.user_id).await? {
        tracing::info!(user_id = %link.user_id, "pending sign-up cancelled by the address's owner");
    }
    Ok(forms::message(
        state,
        headers,
        StatusCode::OK,
        context! {
            title => "Sign-up cancelled",
            message => "Nobody signed up with your address. You can create your own account with it now.",
            link => "/signup", link_label => "Sign up",
        },
    ))
}

pub async fn resend(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(limited) = forms::limit(&state, ip, "resend") {
        return Ok(*limited);
    }
    let params = read_form(&headers, body).await.unwrap_or_default();
    if !forms::anonymous_form_ok(&state, &headers, &params) {
        return Ok(forms::refused(&state));
    }
    let email = params.get("email").unwrap_or_default().trim().to_string();
    let request_id = forms::live_request(&state, params.get("request_id")).await?;
    if let Some(account) = state.store.account_by_identifier(&email).await? {
        if account.email_verified == 0 && account.email.eq_ignore_ascii_case(&email) {
            // Bound to no browser: anyone can ask for a resend, so whoever opens it must
            // also know the password chosen at sign-up.
            send_confirmation(
                &state,
                &account.id,
                &account.given_name,
                &account.email,
                request_id.as_deref(),
                None,
            )
            .await?;
        }
    }
    Ok(check_email(&state, &headers, &email, request_id.as_deref()))
}

fn expired_link(state: &AppState, headers: &HeaderMap) -> Response {
    forms::message(
        state,
        headers,
        StatusCode::BAD_REQUEST,
        context! {
            title => "This link has expired",
            message => "It was already used, replaced by a newer one, or is more than a day old. Sign in to get a new one.",
            link => "/login", link_label => "Sign in",
        },
    )
}
