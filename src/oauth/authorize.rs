//! `GET`/`POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2): an ordered list of small
//! checks in the order the specs imply. Until the client and its exact redirect URI are
//! verified, errors are shown on our own page; only after that may they go back to the
//! client. [`Verified`] can only be built here, after those checks, and is what an error
//! redirect needs: the rule is in the types.

use super::error::OAuthError;
use super::params::{read_form, split_list, Params};
use super::{pkce, SUPPORTED_SCOPES};
use crate::app::AppState;
use crate::secrets;
use crate::sessions;
use crate::store::codes::CodeRow;
use crate::store::sessions::SessionRow;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// A request that passed every check; safe to park while the user signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The granted scopes: the requested ones we support.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// Where a response may go: exists only once client and redirect URI are verified.
#[derive(Debug, Clone)]
pub struct Verified {
    redirect_uri: String,
    state: Option<String>,
}

impl Verified {
    fn of(request: &AuthorizeRequest) -> Verified {
        Verified {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
        }
    }
}

#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown on our error page: the client or redirect URI cannot be trusted.
    Show(OAuthError),
    /// Sent back to the verified redirect URI.
    Redirect(Verified, OAuthError),
}

const PROMPTS: &[&str] = &["none", "login", "consent", "select_account"];
const MAX_VALUE_LEN: usize = 2048;

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    handle(&state, &headers, params).await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let params = read_form(&headers, body).await;
    handle(&state, &headers, params).await
}

/// `GET /authorize/resume/{id}`: continues a parked request after the login page.
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = state.clock.now();
    let parked = match state.store.parked_request(&id, now).await {
        Ok(parked) => parked,
        Err(e) => return render(&state, AuthorizeError::Show(e.into())),
    };
    let Some((json, parked_at)) = parked else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "This sign-in link has expired",
            "The sign-in took too long or was already completed.",
        );
    };
    let result = match serde_json::from_str::<AuthorizeRequest>(&json) {
        Ok(request) => proceed(&state, &headers, request, Some((id, parked_at))).await,
        Err(e) => Err(AuthorizeError::Show(
            anyhow::anyhow!("unreadable parked request: {e}").into(),
        )),
    };
    result.unwrap_or_else(|e| render(&state, e))
}

async fn handle(state: &AppState, headers: &HeaderMap, params: Result<Params, String>) -> Response {
    let result = match params {
        Ok(params) => match validate(state, &params).await {
            Ok(request) => proceed(state, headers, request, None).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(AuthorizeError::Show(OAuthError::invalid_request(e))),
    };
    result.unwrap_or_else(|e| render(state, e))
}

/// Every check, in order. Each `?` before `target` exists can only show an error page.
async fn validate(state: &AppState, params: &Params) -> Result<AuthorizeRequest, AuthorizeError> {
    let show = |msg: &'static str| AuthorizeError::Show(OAuthError::invalid_request(msg));
    // RFC 6749 §4.1.2.1: unknown client — never redirect.
    let client_id = params
        .get("client_id")
        .ok_or(show("The request has no client_id."))?;
    let client = state
        .store
        .client(client_id)
        .await
        .map_err(|e| AuthorizeError::Show(e.into()))?
        .ok_or(show(
            "The application that sent you here is not registered.",
        ))?;
    // OIDC Core §3.1.2.1: redirect_uri is required and must match a registered one exactly.
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(show("The request has no redirect_uri."))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(show(
            "The redirect_uri is not registered for this application.",
        ));
    }
    let target = Verified {
        redirect_uri: redirect_uri.to_string(),
        state: params.get("state").map(str::to_string),
    };
    let fail = |e: OAuthError| AuthorizeError::Redirect(target.clone(), e);

    // OIDC Core §6: request objects are not supported (and not advertised).
    if params.get("request").is_some() {
        return Err(fail(OAuthError::request_not_supported(
            "request objects are not supported",
        )));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(OAuthError::request_uri_not_supported(
            "request_uri is not supported",
        )));
    }
    // RFC 6749 §3.1.1; RFC 9700 §2.1.2: the code flow only.
    match params.get("response_type") {
        None => return Err(fail(OAuthError::invalid_request("missing response_type"))),
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::unsupported_response_type(
                "only response_type=code is supported",
            )))
        }
    }
    // OAuth 2.0 Multiple Response Types §2.1.
    match params.get("response_mode") {
        None | Some("query") => {}
        Some(_) => {
            return Err(fail(OAuthError::invalid_request(
                "unsupported response_mode",
            )))
        }
    }
    // OIDC Core §3.1.2.1: openid is required; unknown scopes are ignored (RFC 6749 §3.3).
    let requested = split_list(params.get("scope"));
    if !requested.iter().any(|s| s == "openid") {
        return Err(fail(OAuthError::invalid_scope("scope must include openid")));
    }
    let scope = requested
        .iter()
        .filter(|s| SUPPORTED_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    // RFC 7636 §4.3, RFC 9700 §2.1.1: S256 only; required of public clients.
    let code_challenge = params.get("code_challenge");
    match (code_challenge, params.get("code_challenge_method")) {
        (None, None) if client.pkce_required() => {
            return Err(fail(OAuthError::invalid_request(
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            )))
        }
        (None, None) => {}
        (None, Some(_)) => {
            return Err(fail(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            )))
        }
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(fail(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is not allowed)",
            )))
        }
        (Some(_), Some(method)) if method != "S256" => {
            return Err(fail(OAuthError::invalid_request(
                "unsupported code_challenge_method",
            )))
        }
        (Some(challenge), Some(_)) if !pkce::valid_challenge(challenge) => {
            return Err(fail(OAuthError::invalid_request(
                "malformed code_challenge",
            )))
        }
        (Some(_), Some(_)) => {}
    }
    // OIDC Core §3.1.2.1: prompt.
    let prompt = split_list(params.get("prompt"));
    if let Some(unknown) = prompt.iter().find(|p| !PROMPTS.contains(&p.as_str())) {
        return Err(fail(OAuthError::invalid_request(format!(
            "unsupported prompt value {unknown:?}"
        ))));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        )));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(fail(OAuthError::invalid_request(
                    "max_age must be a non-negative integer",
                )))
            }
        },
    };
    for name in ["state", "nonce", "login_hint"] {
        if params.get(name).is_some_and(|v| v.len() > MAX_VALUE_LEN) {
            return Err(fail(OAuthError::invalid_request(format!(
                "{name} is too long"
            ))));
        }
    }
    Ok(AuthorizeRequest {
        client_id: client.id,
        redirect_uri: target.redirect_uri.clone(),
        scope,
        state: target.state.clone(),
        nonce: params.get("nonce").map(str::to_string),
        code_challenge: code_challenge.map(str::to_string),
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_string),
    })
}

/// Decides between the login page, an error, and a code. `parked` is the id and time of
/// the parked request when resuming after the login page: a login since then satisfies
/// prompt=login and max_age.
async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    request: AuthorizeRequest,
    parked: Option<(String, i64)>,
) -> Result<Response, AuthorizeError> {
    let target = Verified::of(&request);
    let server_error = |e: OAuthError| AuthorizeError::Redirect(target.clone(), e);
    let session = sessions::current(state, headers)
        .await
        .map_err(|e| server_error(e.into()))?;
    let now = state.clock.now();
    let session = match session {
        Some(s) if !needs_login(&request, &s, parked.as_ref().map(|p| p.1), now) => s,
        _ if request.prompt.iter().any(|p| p == "none") => {
            return Err(server_error(OAuthError::login_required(
                "the user must sign in",
            )));
        }
        _ => {
            let id = match parked {
                Some((id, _)) => id,
                None => {
                    let id = secrets::random_token();
                    let json = serde_json::to_string(&request)
                        .map_err(|e| server_error(anyhow::Error::from(e).into()))?;
                    state
                        .store
                        .park_request(
                            &id,
                            &json,
                            now,
                            state.config.tokens.authorization_request_ttl_secs,
                        )
                        .await
                        .map_err(|e| server_error(e.into()))?;
                    id
                }
            };
            return Ok(found(&format!("/login?request_id={id}")));
        }
    };
    let code = secrets::random_token();
    let row = CodeRow {
        grant_id: secrets::random_id(),
        client_id: request.client_id.clone(),
        user_id: session.user_id.clone(),
        session_id: session.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.auth_time,
        expires_at: now + state.config.tokens.code_ttl_secs,
    };
    state
        .store
        .insert_code(&secrets::digest(&code), &row, now)
        .await
        .map_err(|e| server_error(e.into()))?;
    if let Some((id, _)) = parked {
        // Best effort: an unremoved parked request expires on its own.
        let _ = state.store.drop_request(&id).await;
    }
    Ok(respond(
        &target,
        state.config.issuer_str(),
        &[("code", &code)],
    ))
}

/// OIDC Core §3.1.2.1: prompt=login and max_age ask for a fresh authentication, which a
/// login after the request was parked provides.
fn needs_login(
    request: &AuthorizeRequest,
    session: &SessionRow,
    parked_at: Option<i64>,
    now: i64,
) -> bool {
    if parked_at.is_some_and(|t| session.auth_time >= t) {
        return false;
    }
    request.prompt.iter().any(|p| p == "login")
        || request
            .max_age
            .is_some_and(|max| now - session.auth_time > max)
}

/// A redirect to the client with `pairs`, `state` and the RFC 9207 `iss`.
fn respond(target: &Verified, issuer: &str, pairs: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    if let Some(state) = &target.state {
        query.append_pair("state", state);
    }
    query.append_pair("iss", issuer);
    let separator = if target.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    found(&format!(
        "{}{separator}{}",
        target.redirect_uri,
        query.finish()
    ))
}

/// 302 Found; never 307, which would re-post a login form to the client (RFC 9700 §4.12).
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

fn render(state: &AppState, err: AuthorizeError) -> Response {
    match err {
        AuthorizeError::Redirect(target, e) => respond(
            &target,
            state.config.issuer_str(),
            &[
                ("error", e.code.as_str()),
                ("error_description", &e.description),
            ],
        ),
        AuthorizeError::Show(e) => {
            let status = match e.status() {
                s if s.is_server_error() => s,
                _ => StatusCode::BAD_REQUEST,
            };
            state.pages.error(
                status,
                "We can't sign you in from this link",
                &e.description,
            )
        }
    }
}
