//! `GET`/`POST /userinfo` (OIDC Core §5.3) with RFC 6750 bearer tokens. A token must be
//! one of our RS256 access tokens (never an ID token), unexpired, and its grant still
//! live: a JWT stays valid on paper after its grant is revoked, so we ask the database.
//! A DPoP-bound token comes only as `Authorization: DPoP`, with a proof made with its key
//! for this request (RFC 9449 §7); as a bearer token it is refused. A client that
//! registered `userinfo_signed_response_alg` gets the claims as a signed JWT (§5.3.2).

use super::claims;
use super::dpop_binding::{self, Demand};
use super::error::OAuthError;
use crate::http::{read_form, Params};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = presented(&headers, None);
    respond(&token, answer(&state, &headers, "GET", token.clone()).await)
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    // A body that is not a form simply carries no token; the header may.
    let params = read_form(&headers, body).await.ok();
    let token = presented(&headers, params.as_ref());
    respond(&token, answer(&state, &headers, "POST", token.clone()).await)
}

/// Why a request was refused, and whether the answer is a DPoP challenge (RFC 9449 §7.1)
/// even though the token did not come under that scheme.
struct Refusal {
    error: OAuthError,
    dpop: bool,
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Refusal { error, dpop: false }
    }
}

impl From<crate::error::AppError> for Refusal {
    fn from(error: crate::error::AppError) -> Self {
        OAuthError::from(error).into()
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Self {
        OAuthError::from(error).into()
    }
}

/// The claims as JSON, or signed as the client asked at registration.
enum Answer {
    Json(serde_json::Map<String, Value>),
    Signed(String),
}

fn respond(token: &Result<(Scheme, String), OAuthError>, result: Result<Answer, Refusal>) -> Response {
    match result {
        Ok(answer) => {
            let mut response = match answer {
                Answer::Json(claims) => Json(claims).into_response(),
                Answer::Signed(jwt) => ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response(),
            };
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(r) if r.dpop || matches!(token, Ok((Scheme::Dpop, _))) => dpop_binding::resource_error(r.error),
        Err(r) => r.error.into_response(),
    }
}

/// The scheme a token came under: `Bearer` (RFC 6750, or the form body) or `DPoP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// RFC 6750 §2.1 (header) and §2.2 (form body); exactly one of them.
pub(crate) fn bearer(headers: &HeaderMap, form: Option<&Params>) -> Result<String, OAuthError> {
    match presented(headers, form)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(OAuthError::invalid_token("expected a Bearer token")),
    }
}

/// The token and its scheme: the Authorization header (`Bearer`, or `DPoP` of RFC 9449
/// §7.1) or the form body; exactly one of them.
fn presented(headers: &HeaderMap, form: Option<&Params>) -> Result<(Scheme, String), OAuthError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| OAuthError::invalid_token("malformed Authorization header"))?;
            let scheme = |name: &str| match name {
                _ if name.eq_ignore_ascii_case("bearer") => Some(Scheme::Bearer),
                _ if name.eq_ignore_ascii_case("dpop") => Some(Scheme::Dpop),
                _ => None,
            };
            match value.split_once(' ') {
                Some((name, token)) if !token.trim().is_empty() => match scheme(name) {
                    Some(scheme) => Some((scheme, token.trim().to_string())),
                    None => return Err(OAuthError::invalid_token("expected a Bearer or DPoP token")),
                },
                _ => return Err(OAuthError::invalid_token("expected a Bearer or DPoP token")),
            }
        }
    };
    let from_form = form
        .and_then(|p| p.get("access_token"))
        .map(|t| (Scheme::Bearer, t.to_string()));
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the token in one place only")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(OAuthError::invalid_token("an access token is required")),
    }
}

/// OIDC Core §5.3.2: signed with the key that signs ID tokens, naming us as `iss` and
/// the client as `aud`. `iat` says when we vouched for these claims, for a client that
/// keeps or passes on the signed answer; there is no `exp`, as it is an answer, not a
/// credential, and no `nonce`, which belongs to the ID token.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    token: Result<(Scheme, String), OAuthError>,
) -> Result<Answer, Refusal> {
    let (mut claims, client_id) = userinfo(state, headers, method, token).await?;
    let client = state
        .clients
        .get(&state.store, &client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the client the token was issued to no longer exists"))?;
    if client.userinfo_signed_response_alg.is_none() {
        return Ok(Answer::Json(claims));
    }
    let now = state.clock.now();
    claims.insert("iss".into(), state.config.issuer_str().into());
    claims.insert("aud".into(), client_id.into());
    claims.insert("iat".into(), now.into());
    let jwt = state
        .keys
        .sign(claims::ID_TOKEN_TYP, claims, now)
        .map_err(OAuthError::from)?;
    Ok(Answer::Signed(jwt))
}

/// The claims the token lets its client see, and that client's id.
async fn userinfo(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    token: Result<(Scheme, String), OAuthError>,
) -> Result<(serde_json::Map<String, Value>, String), Refusal> {
    let (scheme, token) = token?;
    let now = state.clock.now();
    let issuer = state.config.issuer_str();
    let (claims, grant) = super::inspect::active_access_token(state, &token, now)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the access token is invalid, expired or revoked"))?;
    if !super::inspect::audience_contains(claims.get("aud"), issuer) {
        return Err(OAuthError::invalid_token("the token is not meant for userinfo").into());
    }
    let demand = Demand {
        method,
        path: super::USERINFO,
        access_token: Some(&token),
        require_nonce: false,
    };
    match (scheme, dpop_binding::bound_key(&claims)) {
        (Scheme::Dpop, Some(jkt)) => {
            let proof = dpop_binding::verify(state, headers, &demand)
                .await?
                .ok_or_else(|| OAuthError::invalid_dpop_proof("a DPoP token needs a DPoP proof"))?;
            if proof.jkt != jkt {
                return Err(
                    OAuthError::invalid_dpop_proof("the proof's key is not the one the token is bound to").into(),
                );
            }
        }
        (Scheme::Bearer, Some(_)) => {
            return Err(Refusal {
                error: OAuthError::invalid_token(
                    "the token is DPoP-bound; send it as Authorization: DPoP with a proof",
                ),
                dpop: true,
            })
        }
        (Scheme::Dpop, None) => {
            return Err(OAuthError::invalid_token("the token is not DPoP-bound; send it as a Bearer token").into())
        }
        (Scheme::Bearer, None) => {}
    }
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OAuthError::insufficient_scope("userinfo needs the openid scope").into());
    }
    // The token's sub is what its client knows the user by (pairwise, perhaps); the
    // grant names the user. A token without a grant is a client's own and has no user.
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let user_id = grant.as_ref().map(|g| g.user_id.as_str()).unwrap_or_default();
    let account = state
        .store
        .account_by_id(user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the account no longer exists"))?;
    // Claims asked for by name ride on the grant the token belongs to.
    let requested = grant
        .filter(|g| claims::Requested::applies(&g.scope, scope))
        .map(|g| claims::Requested::from_column(g.claims.as_deref()));
    let userinfo = claims::userinfo(sub, &account, &scopes, &requested.unwrap_or_default().userinfo);
    let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
    Ok((userinfo, client_id.to_string()))
}
