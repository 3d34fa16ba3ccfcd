//! `GET /session/hello`: the browser's Gatehouse session cookie, checked by forwarding it
//! to Gatehouse's `GET /session/whoami`. Only for an app served from Gatehouse's own host
//! (one reverse proxy in front of both): the browser sends Gatehouse's cookie only there.

use crate::reply::{Granted, Refusal};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde::Deserialize;

pub async fn hello(State(state): State<AppState>, headers: HeaderMap) -> Result<Granted, Refusal> {
    // Without a cookie there is no session to ask about.
    let Some(cookie) = headers.get(COOKIE) else {
        return Err(Refusal::LoginRequired);
    };
    let response = state
        .http()
        .get(state.whoami_url())
        .header(COOKIE, cookie.clone())
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "session check failed");
            Refusal::Unavailable("Gatehouse could not be reached")
        })?;
    match response.status() {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => return Err(Refusal::LoginRequired),
        status => {
            tracing::warn!(%status, "session check answered an error");
            return Err(Refusal::Unavailable("Gatehouse could not check the session"));
        }
    }
    let whoami: WhoAmI = response.json().await.map_err(|e| {
        tracing::warn!(error = %e, "session answer is not the JSON expected");
        Refusal::Unavailable("Gatehouse could not check the session")
    })?;
    Ok(Granted {
        mode: "session",
        sub: whoami.sub,
        scope: None,
    })
}

#[derive(Deserialize)]
struct WhoAmI {
    sub: String,
}
