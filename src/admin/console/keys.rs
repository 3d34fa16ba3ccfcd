//! `/admin/keys`: the signing keys and their states; add one (rotate) or retire one,
//! through the same service functions as `gatehouse keys …` and the admin API.

use super::guard::Console;
use crate::accounts::activity::when;
use crate::admin::keys::{self as service, KeyError};
use crate::audit::{Action, Outcome};
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

async fn page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let keys: Vec<minijinja::Value> = service::list(&state.keys, now)
        .await
        .map_err(|e| AppError::from(anyhow::anyhow!("{e}")))?
        .into_iter()
        .map(|k| {
            context! {
                kid => k.kid, state => k.state, created => when(k.created_at),
                signing_from => when(k.signing_from), retired => k.retired_at.map(when),
            }
        })
        .collect();
    Ok(console.render(
        state,
        status,
        "admin/keys.html",
        context! { section => "keys", keys, notice, error, delay => state.config.keys.rotation_delay_secs },
    ))
}

pub async fn list(console: Console, State(state): State<AppState>) -> Result<Response, AppError> {
    page(&state, &console, StatusCode::OK, None, None).await
}

async fn reload(state: &AppState) -> Result<(), AppError> {
    state.keys.reload_if_changed(state.clock.now()).await?;
    Ok(())
}

pub async fn rotate(
    console: Console,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if let Err(refused) = console.form(&state, &headers, body).await {
        return Ok(refused);
    }
    let key = service::rotate(&state.keys, &state.config, state.clock.now()).await;
    let kid = key.as_ref().ok().map(|k| k.kid.clone());
    let key = console
        .actor
        .audited(&state, Action::AdminKeyRotated, kid.as_deref(), key)
        .await
        .map_err(|e| AppError::from(anyhow::anyhow!("{e}")))?;
    reload(&state).await?;
    let notice = format!(
        "Key {} added: published now, signing from {}.",
        key.kid,
        when(key.signing_from)
    );
    page(&state, &console, StatusCode::OK, Some(&notice), None).await
}

pub async fn retire(
    console: Console,
    State(state): State<AppState>,
    Path(kid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let params = match console.form(&state, &headers, body).await {
        Ok(params) => params,
        Err(refused) => return Ok(refused),
    };
    if let Some(reauth) = console.stale(&state, "/admin/keys") {
        return Ok(reauth);
    }
    let force = params.get("force").is_some();
    let retired = service::retire(&state.keys, &state.config, &kid, force, state.clock.now()).await;
    let detail = force.then(|| "forced".to_string());
    console
        .actor
        .record(
            &state,
            Action::AdminKeyRetired,
            Some(&kid),
            detail,
            Outcome::of(&retired),
        )
        .await;
    match retired {
        Ok(warning) => {
            reload(&state).await?;
            let notice = match warning {
                Some(why) => format!("Key {kid} retired, although {why}."),
                None => format!("Key {kid} retired: it no longer signs and has left the JWKS."),
            };
            page(&state, &console, StatusCode::OK, Some(&notice), None).await
        }
        Err(KeyError::NotFound(_)) => {
            let error = format!("There is no key with kid {kid:?}.");
            page(&state, &console, StatusCode::NOT_FOUND, None, Some(&error)).await
        }
        Err(KeyError::Refused(why)) => {
            let error = format!("{why}. Tick \"even so\" to retire it anyway.");
            page(&state, &console, StatusCode::CONFLICT, None, Some(&capitalised(&error))).await
        }
        Err(KeyError::Internal(e)) => Err(e.into()),
    }
}

fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
