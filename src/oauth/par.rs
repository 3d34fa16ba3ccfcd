//! `POST /par`: pushed authorization requests (RFC 9126). The client authenticates as at
//! `/token` and sends the authorization request in the body; it is checked here exactly
//! as `/authorize` checks one, kept for a minute, and the client sends the browser to
//! `/authorize?client_id=…&request_uri=…`. The parameters never travel through the
//! browser, so they can be neither read nor altered there.

use super::authorize::AuthorizeError;
use super::authorize::{checks, request_object};
use super::client_auth;
use super::dpop_binding::{self, Demand};
use super::error::OAuthError;
use crate::http::read_form;
use crate::secrets;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::authorize::REQUEST_URI_PREFIX;
/// RFC 9126 §2.2: short, as the browser goes there at once.
const LIFETIME_SECS: i64 = 60;

#[derive(Serialize)]
struct Pushed {
    request_uri: String,
    expires_in: i64,
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut response = match push(&state, &headers, body).await {
        Ok(pushed) => (StatusCode::CREATED, Json(pushed)).into_response(),
        Err(e) => e.into_response(),
    };
    if let Err(e) = dpop_binding::attach_nonce(&state, &headers, &mut response).await {
        response = e.into_response();
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn push(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Pushed, OAuthError> {
    let params = read_form(headers, body).await.map_err(OAuthError::invalid_request)?;
    let endpoint = state.config.url_for(super::PAR);
    let client = client_auth::authenticate(state, headers, &params, &endpoint).await?;
    // §2.1: the request is the authenticated client's own, and cannot point elsewhere.
    if params.get("client_id").is_some_and(|id| id != client.id) {
        return Err(OAuthError::invalid_request("client_id is not the authenticated client"));
    }
    if params.get("client_id").is_none() {
        return Err(OAuthError::invalid_request("missing parameter \"client_id\""));
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request("request_uri cannot be pushed"));
    }
    // Every error is the client's to read, here in JSON: nothing has reached a browser.
    let params = request_object::expand(state, &params).await?;
    let mut request = checks::validate(state, &params, true).await.map_err(|e| match e {
        AuthorizeError::Show(e) | AuthorizeError::Redirect(_, e) => e,
    })?;
    // RFC 9449 §10.1: a proof sent with the push binds the code to its key, as dpop_jkt does.
    let demand = Demand {
        method: "POST",
        path: super::PAR,
        access_token: None,
        require_nonce: state.config.dpop.require_nonce,
    };
    if let Some(proof) = dpop_binding::verify(state, headers, &demand).await? {
        if request.dpop_jkt.as_ref().is_some_and(|jkt| *jkt != proof.jkt) {
            return Err(OAuthError::invalid_dpop_proof(
                "dpop_jkt is not the thumbprint of the proof's key",
            ));
        }
        request.dpop_jkt = Some(proof.jkt);
    }
    let id = secrets::random_token();
    let json = serde_json::to_string(&request).map_err(anyhow::Error::from)?;
    let now = state.clock.now();
    state
        .store
        .push_request(&secrets::digest(&id), &client.id, &json, now + LIFETIME_SECS)
        .await?;
    Ok(Pushed {
        request_uri: format!("{REQUEST_URI_PREFIX}{id}"),
        expires_in: LIFETIME_SECS,
    })
}
