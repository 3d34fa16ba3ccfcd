//! `GET`/`POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2). [`checks`] validates the
//! request in spec order; this module decides between the login page, the consent page,
//! an error and a code; [`response`] delivers the answer (query or form_post).
//!
//! Until the client and its exact redirect URI are verified, errors are shown on our own
//! page; only after that may they go back to the client. [`Verified`] can only be built
//! by the checks, and is what an error redirect needs: the rule is in the types.

pub(crate) mod checks;
pub(crate) mod request_object;
mod response;

use super::claims::{self, Requested};
use super::error::OAuthError;
use crate::client_ip::ClientIp;
use crate::http::{found, read_form, Params};
use crate::mfa::Need;
use crate::secrets;
use crate::sessions;
use crate::state::AppState;
use crate::store::codes::CodeRow;
use crate::store::sessions::SessionRow;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use serde::{Deserialize, Serialize};

/// A request that passed every check; safe to park while the user signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The granted scopes: the requested ones we support and the client may have.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    #[serde(default)]
    pub form_post: bool,
    /// The `sub` of a verified id_token_hint (or of the `claims` parameter): the user the
    /// client expects, as the client knows them (pairwise, perhaps).
    #[serde(default)]
    pub hinted_sub: Option<String>,
    /// Claims asked for by name (the `claims` parameter).
    #[serde(default)]
    pub claims: Requested,
    /// The `acr_values` we know, in the client's order of preference.
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// The DPoP key thumbprint the code is to be bound to (RFC 9449 §10).
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

impl AuthorizeRequest {
    /// What the user consents to: the scopes, and those that release claims asked for by name.
    pub fn consent_scopes(&self) -> Vec<&str> {
        let mut scopes: Vec<&str> = self.scope.split(' ').filter(|s| !s.is_empty()).collect();
        for extra in self.claims.scopes() {
            if !scopes.contains(&extra) {
                scopes.push(extra);
            }
        }
        scopes
    }
}

/// Where a response may go: exists only once client and redirect URI are verified.
#[derive(Debug, Clone)]
pub struct Verified {
    redirect_uri: String,
    state: Option<String>,
    form_post: bool,
}

impl Verified {
    fn of(request: &AuthorizeRequest) -> Verified {
        Verified {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
            form_post: request.form_post,
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

pub async fn get(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    handle(&state, ip, &headers, params).await
}

pub async fn post(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let params = read_form(&headers, body).await;
    handle(&state, ip, &headers, params).await
}

/// `GET /authorize/resume/{id}`: continues a parked request after the login or consent page.
pub async fn resume(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match parked(&state, &id).await {
        Ok(Some((request, parked))) => proceed(&state, ip, &headers, request, Some(parked))
            .await
            .unwrap_or_else(|e| render(&state, e)),
        Ok(None) => expired_page(&state),
        Err(e) => render(&state, e),
    }
}

/// Where a resumed request stands.
#[derive(Debug, Clone)]
pub struct Parked {
    pub id: String,
    pub at: i64,
    /// The session a sign-in for this very request made.
    pub signed_in_session: Option<String>,
}

impl Parked {
    /// Whether `session` is the sign-in made for this request.
    fn signed_in_by(&self, session: &SessionRow) -> bool {
        self.signed_in_session.as_deref() == Some(session.id.as_str())
    }
}

/// A parked request and where it stands, if it is still live.
pub async fn parked(state: &AppState, id: &str) -> Result<Option<(AuthorizeRequest, Parked)>, AuthorizeError> {
    let found = state
        .store
        .parked_request(id, state.clock.now())
        .await
        .map_err(|e| AuthorizeError::Show(e.into()))?;
    match found {
        None => Ok(None),
        Some((json, at, signed_in_session)) => serde_json::from_str(&json)
            .map(|r| {
                Some((
                    r,
                    Parked {
                        id: id.to_string(),
                        at,
                        signed_in_session,
                    },
                ))
            })
            .map_err(|e| AuthorizeError::Show(anyhow::anyhow!("unreadable parked request: {e}").into())),
    }
}

pub fn expired_page(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "The sign-in took too long or was already completed. Go back to the app and start again.",
    )
}

/// The user refused on the consent page: tell the client (OIDC Core §3.1.2.6).
pub async fn deny(state: &AppState, id: &str, request: &AuthorizeRequest) -> Response {
    let _ = state.store.drop_request(id).await;
    render(
        state,
        AuthorizeError::Redirect(
            Verified::of(request),
            OAuthError::access_denied("the user denied the request"),
        ),
    )
}

async fn handle(state: &AppState, ip: ClientIp, headers: &HeaderMap, params: Result<Params, String>) -> Response {
    let result = match params {
        // Only our own request_uris (from /par); others are refused by the checks below.
        Ok(params)
            if params
                .get("request_uri")
                .is_some_and(|uri| uri.starts_with(REQUEST_URI_PREFIX)) =>
        {
            match pushed(state, &params).await {
                Ok(request) => proceed(state, ip, headers, request, None).await,
                Err(e) => Err(e),
            }
        }
        Ok(params) => match by_value_or_reference(state, &params).await {
            Ok(params) => match checks::validate(state, &params, false).await {
                Ok(request) => proceed(state, ip, headers, request, None).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(refused_object(state, &params, e).await),
        },
        Err(e) => Err(AuthorizeError::Show(OAuthError::invalid_request(e))),
    };
    result.unwrap_or_else(|e| render(state, e))
}

/// The parameters with the request object, by value or by reference, in force.
async fn by_value_or_reference(state: &AppState, params: &Params) -> Result<Params, OAuthError> {
    let params = request_object::fetch_by_reference(state, params).await?;
    request_object::expand(state, &params).await
}

/// A request object that was refused goes back to the client when the URL's own
/// client_id and redirect_uri pass their checks (never to a redirect URI inside the
/// unverified object); otherwise it is shown on our page.
async fn refused_object(state: &AppState, params: &Params, error: OAuthError) -> AuthorizeError {
    let without = params.merged([], "request").merged([], "request_uri");
    match checks::validate(state, &without, false).await {
        Ok(request) => AuthorizeError::Redirect(Verified::of(&request), error),
        Err(AuthorizeError::Redirect(target, _)) => AuthorizeError::Redirect(target, error),
        Err(AuthorizeError::Show(_)) => AuthorizeError::Show(error),
    }
}

/// What every `request_uri` from `/par` starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The request a client pushed to `/par` (RFC 9126 §4), by its `request_uri`: once, by the
/// client that pushed it, while it lives. Parameters beside it in the URL are ignored,
/// as the request pushed is the one that was authenticated and checked.
async fn pushed(state: &AppState, params: &Params) -> Result<AuthorizeRequest, AuthorizeError> {
    let show = |msg: &'static str| AuthorizeError::Show(OAuthError::invalid_request(msg));
    let client_id = params.get("client_id").ok_or(show("The request has no client_id."))?;
    let gone = "This sign-in link has expired or was already used. Go back to the app and start again.";
    let id = params
        .get("request_uri")
        .and_then(|uri| uri.strip_prefix(REQUEST_URI_PREFIX))
        .ok_or(show(gone))?;
    let json = state
        .store
        .take_pushed_request(&secrets::digest(id), client_id, state.clock.now())
        .await
        .map_err(|e| AuthorizeError::Show(e.into()))?
        .ok_or(show(gone))?;
    serde_json::from_str(&json)
        .map_err(|e| AuthorizeError::Show(anyhow::anyhow!("unreadable pushed request: {e}").into()))
}

/// Decides between the login page, the consent page, an error, and a code. `parked` is the
/// id and time of the parked request when resuming: a login or consent since then
/// satisfies prompt=login, max_age and prompt=consent.
async fn proceed(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    request: AuthorizeRequest,
    parked: Option<Parked>,
) -> Result<Response, AuthorizeError> {
    let target = Verified::of(&request);
    let fail = |e: OAuthError| AuthorizeError::Redirect(target.clone(), e);
    let session = sessions::current(state, headers).await.map_err(|e| fail(e.into()))?;
    let now = state.clock.now();
    let parked_at = parked.as_ref().map(|p| p.at);
    let silent = request.prompt.iter().any(|p| p == "none");
    let client = state
        .clients
        .get(&state.store, &request.client_id)
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| AuthorizeError::Show(OAuthError::invalid_request("The application is no longer registered.")))?;
    let session = match session {
        Some(s)
            if !needs_login(
                &request,
                &state.subjects.for_client(&client, &s.user_id),
                &s,
                parked.as_ref(),
                now,
            ) =>
        {
            s
        }
        _ if silent => return Err(fail(OAuthError::login_required("the user must sign in"))),
        _ => {
            return Ok(found(&format!(
                "/login?request_id={}",
                park(state, ip, &request, parked, now).await.map_err(fail)?
            )))
        }
    };
    // A second factor the policy or the request asks for, and this sign-in lacks.
    if let Some(need) = second_factor_need(state, client.require_mfa, &request, &session, parked.as_ref()) {
        if silent {
            return Err(fail(OAuthError::login_required(
                "the user must sign in with a second factor",
            )));
        }
        let id = park(state, ip, &request, parked, now).await.map_err(fail)?;
        let (location, cookie) = crate::mfa::step_up(state, &session, &id, need)
            .await
            .map_err(|e| fail(e.into()))?;
        let mut response = found(&location);
        if let Some(cookie) = cookie {
            response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    if !client.first_party {
        let consent = state
            .store
            .consent(&session.user_id, &client.id)
            .await
            .map_err(|e| fail(e.into()))?;
        if needs_consent(&request, consent.as_ref(), parked_at) {
            if silent {
                return Err(fail(OAuthError::consent_required(
                    "the user must approve this application",
                )));
            }
            let id = park(state, ip, &request, parked, now).await.map_err(fail)?;
            return Ok(found(&format!("/consent?request_id={id}")));
        }
    }
    let scope = admin_scope_for(state, &request.scope, &session.user_id)
        .await
        .map_err(fail)?;
    let code = secrets::random_token();
    let row = CodeRow {
        grant_id: secrets::random_id(),
        client_id: request.client_id.clone(),
        user_id: session.user_id.clone(),
        session_id: session.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope,
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.auth_time,
        expires_at: now + state.config.tokens.code_ttl_secs,
        claims: request.claims.to_column(),
        acr: acr(&request, &session, parked.as_ref()),
        amr: session.amr.clone(),
        idp: session.idp.clone(),
        dpop_jkt: request.dpop_jkt.clone(),
    };
    state
        .store
        .insert_code(&secrets::digest(&code), &row, now)
        .await
        .map_err(|e| fail(e.into()))?;
    if let Some(parked) = parked {
        // Best effort: an unremoved parked request expires on its own.
        let _ = state.store.drop_request(&parked.id).await;
    }
    Ok(response::deliver(state, &target, &[("code", &code)]))
}

/// The granted scope: as asked for (and allowed to the client), less `gatehouse:admin`
/// unless the user has the admin role. Only then is the user looked up.
async fn admin_scope_for(state: &AppState, scope: &str, user_id: &str) -> Result<String, OAuthError> {
    if !scope.split(' ').any(|s| s == crate::clients::ADMIN_SCOPE) {
        return Ok(scope.to_string());
    }
    let admin = state
        .store
        .account_by_id(user_id)
        .await?
        .is_some_and(|a| a.is_admin != 0);
    Ok(scope
        .split(' ')
        .filter(|s| admin || *s != crate::clients::ADMIN_SCOPE)
        .collect::<Vec<_>>()
        .join(" "))
}

/// Parks the request (once) and returns its id. Each parked request is a stored row made
/// before anyone signed in, so they are limited per client IP.
async fn park(
    state: &AppState,
    ip: ClientIp,
    request: &AuthorizeRequest,
    parked: Option<Parked>,
    now: i64,
) -> Result<String, OAuthError> {
    if let Some(parked) = parked {
        return Ok(parked.id);
    }
    let limit = state.config.accounts.parked_requests_per_minute;
    if state.limiter.check_with("authorize", ip.0, now, limit).is_err() {
        state.metrics.rate_limited.with_label_values(&["authorize"]).inc();
        return Err(OAuthError::temporarily_unavailable(
            "too many sign-in requests from this address; try again in a minute",
        ));
    }
    let id = secrets::random_token();
    let json = serde_json::to_string(request).map_err(anyhow::Error::from)?;
    state
        .store
        .park_request(&id, &json, now, state.config.tokens.authorization_request_ttl_secs)
        .await?;
    Ok(id)
}

/// The `acr` of the answer: the first of the request's `acr_values` this sign-in meets,
/// else whether the user signed in during this authorization ("1", after it was parked for
/// the login page) or an existing session carried it ("0").
fn acr(request: &AuthorizeRequest, session: &SessionRow, parked: Option<&Parked>) -> String {
    if let Some(met) = request.acr_values.iter().find(|a| acr_met(a, session, parked)) {
        return met.clone();
    }
    match parked.is_some_and(|p| p.signed_in_by(session)) {
        true => claims::ACR_FRESH.into(),
        false => claims::ACR_SESSION.into(),
    }
}

fn acr_met(value: &str, session: &SessionRow, parked: Option<&Parked>) -> bool {
    match value {
        claims::ACR_SESSION => true,
        claims::ACR_FRESH => parked.is_some_and(|p| p.signed_in_by(session)),
        claims::ACR_MFA => Need::Any.met_by(session),
        claims::ACR_PHISHING_RESISTANT => Need::Passkey.met_by(session),
        _ => false,
    }
}

/// The second factor still needed: by the operator or the client for every sign-in, or by
/// `acr_values` none of which this sign-in meets (`mfa` is the lesser demand, `phr` asks
/// for a passkey).
fn second_factor_need(
    state: &AppState,
    client_requires: bool,
    request: &AuthorizeRequest,
    session: &SessionRow,
    parked: Option<&Parked>,
) -> Option<Need> {
    let policy = crate::mfa::required(&state.config, client_requires).filter(|need| !need.met_by(session));
    let asked = &request.acr_values;
    let by_acr = match asked.iter().any(|a| acr_met(a, session, parked)) {
        true => None,
        false if asked.iter().any(|a| a == claims::ACR_MFA) => Some(Need::Any),
        false if asked.iter().any(|a| a == claims::ACR_PHISHING_RESISTANT) => Some(Need::Passkey),
        false => None,
    };
    by_acr.or(policy)
}

/// OIDC Core §3.1.2.1: prompt=login, max_age (and acr_values=1) ask for a fresh
/// authentication, which only the sign-in made for this parked request provides; an
/// id_token_hint for another user asks for that user. `sub` is what the client knows the
/// session's user by, as the hint's is.
fn needs_login(request: &AuthorizeRequest, sub: &str, session: &SessionRow, parked: Option<&Parked>, now: i64) -> bool {
    if request.hinted_sub.as_ref().is_some_and(|hinted| hinted != sub) {
        return true;
    }
    if parked.is_some_and(|p| p.signed_in_by(session)) {
        return false;
    }
    // acr_values that accept only a fresh sign-in ask for one too (step-up, as in Keycloak).
    let fresh_only = !request.acr_values.is_empty() && request.acr_values.iter().all(|a| a == claims::ACR_FRESH);
    fresh_only
        || request.prompt.iter().any(|p| p == "login")
        || request.max_age.is_some_and(|max| now - session.auth_time > max)
}

/// A third-party client needs the user's consent to every scope it asks for, and again
/// when it sends prompt=consent, unless consent was given after the request was parked.
fn needs_consent(request: &AuthorizeRequest, consent: Option<&(String, i64)>, parked_at: Option<i64>) -> bool {
    let Some((scope, granted_at)) = consent else {
        return true;
    };
    let consented: Vec<&str> = scope.split(' ').collect();
    let covered = request.consent_scopes().iter().all(|s| consented.contains(s));
    if !covered {
        return true;
    }
    // A consent given after the request was parked answers its prompt=consent.
    let fresh = parked_at.is_some_and(|t| *granted_at >= t);
    !fresh && request.prompt.iter().any(|p| p == "consent")
}

fn render(state: &AppState, err: AuthorizeError) -> Response {
    match err {
        AuthorizeError::Redirect(target, e) => response::deliver(
            state,
            &target,
            &[("error", e.code.as_str()), ("error_description", &e.description)],
        ),
        AuthorizeError::Show(e) => {
            let status = match e.status() {
                s if s.is_server_error() => s,
                _ => StatusCode::BAD_REQUEST,
            };
            state
                .pages
                .error(status, "We can't sign you in from this link", &e.description)
        }
    }
}
