//! Consent for third-party clients during an authorization: the page that names the
//! client, where it will send the user, and each scope in plain words; and the decision.
//! The user's own list of apps with access is `accounts::consents`.

use super::authorize;
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::found;
use crate::http::read_form;
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::store::sessions::SessionRow;
use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ConsentQuery {
    request_id: Option<String>,
}

/// What a scope lets the app do, as the user reads it.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are when you sign in".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "address" => "See your postal address".into(),
        "phone" => "See your phone number".into(),
        "offline_access" => "Stay connected to your account when you are not using it".into(),
        other => format!("Use the \u{201c}{other}\u{201d} permission"),
    }
}

fn form_refused(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::FORBIDDEN,
        "Request not confirmed",
        "This form expired or was sent from another site. Please try again.",
    )
}

fn csrf_ok(state: &AppState, headers: &HeaderMap, session: &SessionRow, submitted: Option<&str>) -> bool {
    sessions::same_origin(&state.config, headers)
        && submitted.is_some_and(|t| secrets::constant_time_eq(t, &session.csrf_token))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ConsentQuery>,
) -> Result<Response, AppError> {
    let id = q.request_id.unwrap_or_default();
    let Some(session) = sessions::current(&state, &headers).await? else {
        return Ok(found(&format!("/login?request_id={id}")));
    };
    let Ok(Some((request, _))) = authorize::parked(&state, &id).await else {
        return Ok(authorize::expired_page(&state));
    };
    let Some(client) = state.store.client(&request.client_id).await? else {
        return Ok(authorize::expired_page(&state));
    };
    let username = state
        .store
        .account_by_id(&session.user_id)
        .await?
        .map(|a| a.username)
        .unwrap_or_default();
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let scopes: Vec<String> = request.consent_scopes().into_iter().map(describe_scope).collect();
    let ctx = context! {
        client_name => client.name,
        redirect_host,
        scopes,
        username,
        request_id => id,
        csrf_token => session.csrf_token,
        logo_uri => client.logo_uri,
        policy_uri => client.policy_uri,
        tos_uri => client.tos_uri,
    };
    // The logo comes from the client's server: the page's policy lets in that one origin.
    Ok(match &client.logo_uri {
        Some(logo) => state.pages.render_with_image(StatusCode::OK, "consent.html", ctx, logo),
        None => state.pages.render(StatusCode::OK, "consent.html", ctx),
    })
}

pub async fn decide(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let id = params.get("request_id").unwrap_or_default().to_string();
    let Some(session) = sessions::current(&state, &headers).await? else {
        return Ok(found(&format!("/login?request_id={id}")));
    };
    if !csrf_ok(&state, &headers, &session, params.get("csrf_token")) {
        return Ok(form_refused(&state));
    }
    let Ok(Some((request, _))) = authorize::parked(&state, &id).await else {
        return Ok(authorize::expired_page(&state));
    };
    if params.get("decision") != Some("allow") {
        return Ok(authorize::deny(&state, &id, &request).await);
    }
    let now = state.clock.now();
    let mut scopes: Vec<String> = match state.store.consent(&session.user_id, &request.client_id).await? {
        Some((scope, _)) => scope.split(' ').map(str::to_string).collect(),
        None => vec![],
    };
    for s in request.consent_scopes() {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    state
        .store
        .save_consent(&session.user_id, &request.client_id, scopes.join(" ").trim(), now)
        .await?;
    tracing::info!(user_id = %session.user_id, client_id = %request.client_id, "consent given");
    let event = Event::new(Action::ConsentGranted)
        .actor(&session.user_id)
        .target(&request.client_id);
    let event = event.client(&request.client_id).detail(scopes.join(" "));
    audit::record(&state, ip.0, &headers, event).await;
    Ok(found(&format!("/authorize/resume/{id}")))
}
