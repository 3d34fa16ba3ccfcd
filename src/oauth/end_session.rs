//! Signing out: OpenID Connect RP-Initiated Logout 1.0 at `/logout`, and the user's own
//! sign-out. An app that sends a valid `id_token_hint` for the signed-in user gets the
//! session ended at once and the user sent to its `post_logout_redirect_uri` (exactly as
//! registered, with `state`). Without such a hint nobody can be signed out by a link
//! (`<img src=/logout>`): the user is asked first, and the answer is a POST with the
//! session's CSRF token. We never redirect anywhere unregistered.

use super::claims::ID_TOKEN_TYP;
use super::inspect::audience_contains;
use crate::error::AppError;
use crate::http::found;
use crate::http::{read_form, Params};
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::store::sessions::SessionRow;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde_json::Value;

/// Where to send the user afterwards, once checked against the client's registration.
struct Return {
    client_id: String,
    uri: String,
    state: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    rp_initiated(&state, &headers, &params).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    rp_initiated(&state, &headers, &params).await
}

async fn rp_initiated(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<Response, AppError> {
    let session = sessions::current(state, headers).await?;
    // RP-Initiated Logout §2: the hint must be an ID token we issued (expired is fine).
    let hint = params.get("id_token_hint").map(|h| {
        state
            .keys
            .verify_signature(h, ID_TOKEN_TYP, state.config.issuer_str())
            .ok()
            .filter(crate::oauth::claims::is_id_token)
    });
    let hint_ok = !matches!(hint, Some(None));
    let hint = hint.flatten();
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(claims)) if !audience_contains(claims.get("aud"), id) => None,
        (Some(id), _) => Some(id.to_string()),
        (None, Some(claims)) => match claims.get("aud") {
            Some(Value::String(aud)) => Some(aud.clone()),
            Some(Value::Array(list)) if list.len() == 1 => list[0].as_str().map(str::to_string),
            _ => None,
        },
        (None, None) => None,
    };
    let back = match (params.get("post_logout_redirect_uri"), &client_id) {
        (Some(uri), Some(client_id)) if hint_ok => {
            registered_return(state, client_id, uri, params.get("state")).await?
        }
        _ => None,
    };
    let hinted_sub = hint.as_ref().and_then(|c| c.get("sub")).and_then(Value::as_str);
    let Some(session) = session else {
        // Nothing to end. Go back only where a verified hint vouches for the return URI.
        return Ok(match (&back, hinted_sub) {
            (Some(back), Some(_)) => return_to(back),
            _ => signed_out_page(state),
        });
    };
    // A return URI that fails its check means something is off: ask rather than act.
    let bad_return = params.get("post_logout_redirect_uri").is_some() && back.is_none();
    // The hint's sub is what the client it was issued to knows the user by (pairwise,
    // perhaps): compare it with that, never read a user out of it.
    let hinted_client = match (&hint, &client_id) {
        (Some(_), Some(id)) => state.clients.get(&state.store, id).await?,
        _ => None,
    };
    let session_sub = hinted_client.map(|c| state.subjects.for_client(&c, &session.user_id));
    if hinted_sub.is_some() && hinted_sub == session_sub.as_deref() && !bad_return {
        let clear = sign_out(state, headers, &session).await?;
        let mut response = match &back {
            Some(back) => return_to(back),
            None => signed_out_page(state),
        };
        response.headers_mut().append(header::SET_COOKIE, clear);
        return Ok(response);
    }
    let username = state
        .store
        .account_by_id(&session.user_id)
        .await?
        .map(|a| a.username)
        .unwrap_or_default();
    Ok(state.pages.render(
        StatusCode::OK,
        "logout.html",
        context! {
            signed_out => false,
            username,
            csrf_token => session.csrf_token,
            client_id => back.as_ref().map(|b| b.client_id.clone()),
            post_logout_redirect_uri => back.as_ref().map(|b| b.uri.clone()),
            state => back.as_ref().and_then(|b| b.state.clone()),
        },
    ))
}

/// `POST /logout/confirm`: the user said yes on the confirmation page.
pub async fn confirm(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(session) = sessions::current(&state, &headers).await? else {
        return Ok(signed_out_page(&state));
    };
    let csrf_ok = params
        .get("csrf_token")
        .is_some_and(|t| secrets::constant_time_eq(t, &session.csrf_token));
    if !csrf_ok || !sessions::same_origin(&state.config, &headers) {
        return Ok(state.pages.error(
            StatusCode::FORBIDDEN,
            "Sign-out not confirmed",
            "This form expired or was sent from another site. Please try again.",
        ));
    }
    // The return URI came through the form: check it against the registration again.
    let back = match (params.get("client_id"), params.get("post_logout_redirect_uri")) {
        (Some(client_id), Some(uri)) => registered_return(&state, client_id, uri, params.get("state")).await?,
        _ => None,
    };
    let clear = sign_out(&state, &headers, &session).await?;
    let mut response = match &back {
        Some(back) => return_to(back),
        None => signed_out_page(&state),
    };
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

/// The post-logout redirect, if `uri` is exactly one that `client_id` registered.
async fn registered_return(
    state: &AppState,
    client_id: &str,
    uri: &str,
    rp_state: Option<&str>,
) -> Result<Option<Return>, AppError> {
    Ok(match state.store.client(client_id).await? {
        Some(client) if client.has_post_logout_redirect_uri(uri) => Some(Return {
            client_id: client.id,
            uri: uri.to_string(),
            state: rp_state.map(str::to_string),
        }),
        _ => None,
    })
}

/// Ends `session` everywhere: the row, the grants made in it (except offline access), and
/// a back-channel logout token to each client that got tokens in it. Returns the
/// Set-Cookie header that clears the browser's cookie.
pub async fn sign_out(state: &AppState, headers: &HeaderMap, session: &SessionRow) -> Result<HeaderValue, AppError> {
    let clear = sessions::end(state, headers).await?;
    sessions::ended(state, std::slice::from_ref(session)).await?;
    tracing::info!(user_id = %session.user_id, "signed out");
    Ok(clear)
}

fn return_to(back: &Return) -> Response {
    let mut uri = back.uri.clone();
    if let Some(state) = &back.state {
        let separator = if uri.contains('?') { '&' } else { '?' };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("state", state)
            .finish();
        uri = format!("{uri}{separator}{query}");
    }
    found(&uri)
}

fn signed_out_page(state: &AppState) -> Response {
    state
        .pages
        .render(StatusCode::OK, "logout.html", context! { signed_out => true })
}
