//! The account page's list of apps with access to the account, where withdrawing consent
//! also revokes the app's tokens.

use super::forms;
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::http::{found, read_form};
use crate::sessions;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(session) = sessions::current(&state, &headers).await? else {
        return Ok(found("/login"));
    };
    let consents: Vec<minijinja::Value> = state
        .store
        .consents(&session.user_id)
        .await?
        .into_iter()
        .map(|(client_id, client_name, scope)| context! { client_id, client_name, scope })
        .collect();
    Ok(state.pages.render(
        StatusCode::OK,
        "consents.html",
        context! { consents, csrf_token => session.csrf_token },
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = read_form(&headers, body).await.unwrap_or_default();
    let Some(session) = sessions::current(&state, &headers).await? else {
        return Ok(found("/login"));
    };
    if !forms::session_form_ok(&state, &headers, &session, &params) {
        return Ok(forms::refused(&state));
    }
    let client_id = params.get("client_id").unwrap_or_default();
    // First-party apps hold grants without a consent row: revoke either way.
    let consented = state.store.delete_consent(&session.user_id, client_id).await?;
    let revoked = state
        .store
        .revoke_client_grants(&session.user_id, client_id, state.clock.now())
        .await?;
    if consented || revoked > 0 {
        tracing::info!(user_id = %session.user_id, client_id, revoked, "access withdrawn");
        let event = Event::new(Action::ConsentWithdrawn)
            .actor(&session.user_id)
            .target(client_id);
        audit::record(&state, ip.0, &headers, event.client(client_id)).await;
    }
    let back = match params.get("return_to") {
        Some("/account") => "/account",
        _ => "/account/consents",
    };
    Ok(found(back))
}
