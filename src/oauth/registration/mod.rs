//! Dynamic Client Registration: `POST /register` (RFC 7591, OpenID Connect Dynamic
//! Client Registration 1.0) and the client's own configuration endpoint
//! `/register/{client_id}` (RFC 7592), read, replaced and deleted with the registration
//! access token issued at registration. Mounted only when `registration.mode` is not off.
//! Clients are made, changed and deleted by the same functions as the CLI's, so a
//! registration is refused for exactly what the CLI would refuse.

pub mod metadata;

use crate::admin::clients::{self as service, ClientError, Invalid};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::config::RegistrationMode;
use crate::oauth::error::OAuthError;
use crate::secrets;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metadata::Registration;
use serde_json::{Map, Value};

pub const PATH: &str = "/register";

/// A registration body is a few redirect URIs and maybe a JWK Set; more is not a client.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Open registration per client address: enough for a test suite, not for a flood.
const REGISTRATIONS_PER_MINUTE: u32 = 30;

pub fn routes(mode: RegistrationMode) -> Router<AppState> {
    match mode {
        RegistrationMode::Off => Router::new(),
        _ => Router::new()
            .route(PATH, post(register))
            .route(&format!("{PATH}/{{client_id}}"), get(read).put(replace).delete(remove)),
    }
}

fn configuration_uri(state: &AppState, client_id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    state.config.url_for(&format!("{PATH}/{id}"))
}

fn answer(status: StatusCode, body: Map<String, Value>) -> Response {
    let mut response = (status, Json(Value::Object(body))).into_response();
    // It may carry a secret and a registration access token (RFC 7591 §3.2.1).
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A refusal from the shared client rules, in RFC 7591 §3.2.2's words.
fn refused(e: ClientError) -> OAuthError {
    match e {
        ClientError::Invalid(Invalid {
            field: "redirect_uris" | "post_logout_redirect_uris",
            message,
        }) => OAuthError::invalid_redirect_uri(message),
        ClientError::Invalid(Invalid { message, .. }) | ClientError::Conflict(message) => {
            OAuthError::invalid_client_metadata(message)
        }
        ClientError::NotFound(_) => OAuthError::invalid_token("the client is gone"),
        ClientError::Internal(e) => OAuthError::from(crate::error::AppError::Internal(e)),
    }
}

async fn json_body(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, OAuthError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(OAuthError::invalid_client_metadata("the body must be application/json"));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| OAuthError::invalid_client_metadata("the registration is too large"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(OAuthError::invalid_client_metadata(
            "the body must be a JSON object of client metadata",
        )),
    }
}

/// RFC 7591 §3: who may register.
async fn admitted(state: &AppState, headers: &HeaderMap, ip: ClientIp, now: i64) -> Result<(), OAuthError> {
    match state.config.registration.mode {
        RegistrationMode::Token => {
            let token = super::userinfo::bearer(headers, None)
                .map_err(|_| OAuthError::invalid_token("registration needs an initial access token"))?;
            if !state
                .store
                .initial_access_token_valid(&secrets::digest(&token), now)
                .await?
            {
                return Err(OAuthError::invalid_token(
                    "the initial access token is unknown or expired",
                ));
            }
            Ok(())
        }
        _ => {
            if state
                .limiter
                .check_with("register", ip.0, now, REGISTRATIONS_PER_MINUTE)
                .is_err()
            {
                state.metrics.rate_limited.with_label_values(&["register"]).inc();
                return Err(OAuthError::temporarily_unavailable(
                    "too many registrations from this address; try again in a minute",
                ));
            }
            Ok(())
        }
    }
}

pub async fn register(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match register_client(&state, &headers, ip, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn register_client(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    body: Body,
) -> Result<Response, OAuthError> {
    let now = state.clock.now();
    admitted(state, headers, ip, now).await?;
    let Registration {
        mut settings,
        auth_method,
    } = metadata::read(&json_body(headers, body).await?)?;
    if settings.name.is_none() {
        // The consent page names the app; an unnamed one goes by its redirect host.
        settings.name = Some(unnamed(settings.redirect_uris.as_deref().unwrap_or_default()));
    }
    let issued = service::create(&state.store, &state.outbound, settings, now)
        .await
        .map_err(refused)?;
    let token = secrets::random_token();
    let client_id = issued.client.id.clone();
    if let Err(e) = state
        .store
        .create_registration(&client_id, &secrets::digest(&token), &auth_method, now)
        .await
    {
        // Without its registration nobody could manage the client: take it back.
        let _ = service::delete(&state.store, &client_id).await;
        return Err(e.into());
    }
    let mut body = metadata::describe(&issued.client, &auth_method, &configuration_uri(state, &client_id));
    if let Some(secret) = issued.secret {
        body.insert("client_secret".into(), secret.into());
    }
    body.insert("registration_access_token".into(), token.into());
    let how = match state.config.registration.mode {
        RegistrationMode::Token => "with an initial access token",
        _ => "open registration",
    };
    let event = Event::new(Action::ClientRegistered)
        .client(&client_id)
        .target(&client_id)
        .detail(how.to_string());
    audit::record(state, ip.0, headers, event).await;
    Ok(answer(StatusCode::CREATED, body))
}

fn unnamed(redirect_uris: &[String]) -> String {
    redirect_uris
        .first()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "Unnamed app".into())
}

/// RFC 7592 §3: the registration access token names the one client it manages; any
/// mismatch is a 401 that does not say whether the client exists.
async fn managed(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<(crate::clients::Client, String), OAuthError> {
    let token = super::userinfo::bearer(headers, None)?;
    let registration = state.store.registration_by_token(&secrets::digest(&token)).await?;
    let deny = || OAuthError::invalid_token("the registration access token does not open this client");
    let registration = registration.filter(|r| r.client_id == client_id).ok_or_else(deny)?;
    let client = state.store.client(client_id).await?.ok_or_else(deny)?;
    Ok((client, registration.token_endpoint_auth_method))
}

pub async fn read(State(state): State<AppState>, Path(client_id): Path<String>, headers: HeaderMap) -> Response {
    match managed(&state, &headers, &client_id).await {
        Ok((client, method)) => answer(
            StatusCode::OK,
            metadata::describe(&client, &method, &configuration_uri(&state, &client_id)),
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn replace(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match replace_client(&state, &client_id, &headers, body).await {
        Ok(response) => {
            let event = Event::new(Action::ClientRegistrationReplaced)
                .client(&client_id)
                .target(&client_id);
            audit::record(&state, ip.0, &headers, event).await;
            response
        }
        Err(e) => e.into_response(),
    }
}

/// RFC 7592 §2.2: the request holds every value; one left out goes back to its default.
async fn replace_client(
    state: &AppState,
    client_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let (client, method) = managed(state, headers, client_id).await?;
    let body = json_body(headers, body).await?;
    if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(OAuthError::invalid_request(
            "the body's client_id must be this client's",
        ));
    }
    if let Some(secret) = body.get("client_secret") {
        if !secret.as_str().is_some_and(|s| client.secret_matches(s)) {
            return Err(OAuthError::invalid_request("client_secret is not this client's secret"));
        }
    }
    let Registration {
        mut settings,
        auth_method,
    } = metadata::read(&body)?;
    let was_public = matches!(method.as_str(), "none" | "private_key_jwt");
    if settings.public.take() != Some(was_public) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "token_endpoint_auth_method cannot change from {method} to {auth_method}: register a new client"
        )));
    }
    // Left out means removed (§2.2): an empty value clears the keys and the URI.
    settings.jwks.get_or_insert_with(String::new);
    settings.backchannel_logout_uri.get_or_insert_with(String::new);
    settings.require_dpop.get_or_insert(false);
    for value in [
        &mut settings.jwks_uri,
        &mut settings.sector_identifier_uri,
        &mut settings.logo_uri,
        &mut settings.policy_uri,
        &mut settings.tos_uri,
        &mut settings.userinfo_signed_response_alg,
    ] {
        value.get_or_insert_with(String::new);
    }
    settings.subject_type.get_or_insert_with(|| "public".into());
    settings.unrestricted_scopes = settings.scopes.is_none();
    if settings.name.is_none() {
        settings.name = Some(unnamed(settings.redirect_uris.as_deref().unwrap_or_default()));
    }
    // Another sector changes the sub of every user the client knows (OIDC Core §8.1): its
    // accounts would be orphaned, or a pairwise client would start seeing user ids. The
    // client's own token cannot do that; the operator can (`gatehouse client update`).
    let sector = service::preview(&client, &settings)
        .map_err(|e| refused(e.into()))?
        .pairwise_sector;
    if sector != client.pairwise_sector {
        let name = |sector: &Option<String>| match sector {
            Some(host) => format!("pairwise for {host}"),
            None => "public".to_string(),
        };
        return Err(OAuthError::invalid_client_metadata(format!(
            "the subjects cannot change from {} to {}: every sub would change; register a new client",
            name(&client.pairwise_sector),
            name(&sector)
        )));
    }
    let updated = service::update(&state.store, &state.outbound, client_id, settings, false)
        .await
        .map_err(refused)?;
    state.store.set_registered_auth_method(client_id, &auth_method).await?;
    // This instance at once; the others within the cache's poll.
    state.clients.refresh(&state.store).await?;
    Ok(answer(
        StatusCode::OK,
        metadata::describe(&updated.client, &auth_method, &configuration_uri(state, client_id)),
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let outcome = async {
        managed(&state, &headers, &client_id).await?;
        service::delete(&state.store, &client_id).await.map_err(refused)?;
        state.clients.refresh(&state.store).await.map_err(OAuthError::from)
    };
    match outcome.await {
        // RFC 7592 §2.3: 204, and the client's grants and tokens are gone with it.
        Ok(_) => {
            let event = Event::new(Action::ClientRegistrationDeleted)
                .client(&client_id)
                .target(&client_id);
            audit::record(&state, ip.0, &headers, event).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// An initial access token (RFC 7591 §3) for `registration.mode = "token"`: shown once,
/// kept as a digest, good for any number of registrations until `ttl_secs` pass.
pub async fn issue_initial_access_token(
    store: &crate::store::Store,
    now: i64,
    ttl_secs: i64,
) -> Result<String, sqlx::Error> {
    let token = secrets::random_token();
    store
        .create_initial_access_token(&secrets::digest(&token), now, now + ttl_secs)
        .await?;
    Ok(token)
}
