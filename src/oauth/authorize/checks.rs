//! The checks of an authorization request, in order. Each one before `target` exists can
//! only show an error page; after it, errors go back to the client.

use super::{AuthorizeError, AuthorizeRequest, Verified};
use crate::http::{split_list, Params};
use crate::oauth::claims::{Requested, ACR_VALUES, ID_TOKEN_TYP};
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::state::AppState;

const PROMPTS: &[&str] = &["none", "login", "consent", "select_account"];
const MAX_VALUE_LEN: usize = 2048;

/// `pushed`: the request arrived at `/par` (RFC 9126), not straight at `/authorize`.
pub(crate) async fn validate(
    state: &AppState,
    params: &Params,
    pushed: bool,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let show = |msg: &'static str| AuthorizeError::Show(OAuthError::invalid_request(msg));
    // RFC 6749 §4.1.2.1: unknown client — never redirect.
    let client_id = params.get("client_id").ok_or(show("The request has no client_id."))?;
    let client = state
        .clients
        .get(&state.store, client_id)
        .await
        .map_err(|e| AuthorizeError::Show(e.into()))?
        .ok_or(show("The application that sent you here is not registered."))?;
    // OIDC Core §3.1.2.1: redirect_uri is required and must match a registered one exactly.
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(show("The request has no redirect_uri."))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(show("The redirect_uri is not registered for this application."));
    }
    // OAuth 2.0 Form Post Response Mode; anything but query and form_post is refused, and
    // that refusal goes back by query.
    let response_mode = params.get("response_mode");
    let target = Verified {
        redirect_uri: redirect_uri.to_string(),
        state: params.get("state").map(str::to_string),
        form_post: response_mode == Some("form_post"),
    };
    let fail = |e: OAuthError| AuthorizeError::Redirect(target.clone(), e);
    if !matches!(response_mode, None | Some("query") | Some("form_post")) {
        return Err(fail(OAuthError::invalid_request("unsupported response_mode")));
    }
    // RFC 9126 §5: a client registered to push its requests may not send them in the URL.
    if client.require_par && !pushed {
        return Err(fail(OAuthError::invalid_request(
            "this client must push its authorization requests to the pushed_authorization_request_endpoint",
        )));
    }
    // A request object is verified and expanded before these checks
    // (`request_object::expand`); one that reaches here was never verified.
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
    if !client.may_use_grant("authorization_code") {
        return Err(fail(OAuthError::unauthorized_client(
            "this client may not use the authorization code flow",
        )));
    }
    // OIDC Core §3.1.2.1: openid is required; scopes we or the client don't know are
    // ignored (RFC 6749 §3.3), and offline_access only means something to clients that
    // may refresh (OIDC Core §11).
    let requested = split_list(params.get("scope"));
    if !requested.iter().any(|s| s == "openid") {
        return Err(fail(OAuthError::invalid_scope("scope must include openid")));
    }
    let scope = requested
        .iter()
        .filter(|s| s.as_str() == "openid" || client.may_request_scope(s))
        .filter(|s| s.as_str() != "offline_access" || client.may_use_grant("refresh_token"))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    // RFC 7636 §4.3, RFC 9700 §2.1.1: S256 only; required of public clients.
    let code_challenge = params.get("code_challenge");
    let pkce_error = match (code_challenge, params.get("code_challenge_method")) {
        (None, None) if client.pkce_required() => {
            Some("PKCE is required: send code_challenge with code_challenge_method=S256")
        }
        (None, None) => None,
        (None, Some(_)) => Some("code_challenge_method without code_challenge"),
        (Some(_), None) | (Some(_), Some("plain")) => Some("code_challenge_method must be S256 (plain is not allowed)"),
        (Some(_), Some(method)) if method != "S256" => Some("unsupported code_challenge_method"),
        (Some(challenge), Some(_)) if !pkce::valid_challenge(challenge) => Some("malformed code_challenge"),
        (Some(_), Some(_)) => None,
    };
    if let Some(message) = pkce_error {
        return Err(fail(OAuthError::invalid_request(message)));
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
    for name in [
        "scope",
        "state",
        "nonce",
        "login_hint",
        "ui_locales",
        "acr_values",
        "claims_locales",
        "display",
        "claims",
    ] {
        if params.get(name).is_some_and(|v| v.len() > MAX_VALUE_LEN) {
            return Err(fail(OAuthError::invalid_request(format!("{name} is too long"))));
        }
    }
    // OIDC Core §5.5: individual claims asked for by name, released as if their scope had
    // been asked for, but only to a client that may have that scope.
    let (claims, demands) = match params.get("claims") {
        None => Default::default(),
        Some(raw) => Requested::parse(raw, |scope| client.may_request_scope(scope))
            .map_err(|e| fail(OAuthError::invalid_request(e)))?,
    };
    // RFC 9449 §10: the code is bound to the thumbprint of the client's DPoP key.
    let dpop_jkt = match params.get("dpop_jkt") {
        Some(jkt) if !crate::oauth::dpop::is_thumbprint(jkt) => {
            return Err(fail(OAuthError::invalid_request(
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
            )))
        }
        other => other.map(str::to_string),
    };
    // OIDC Core §3.1.2.1: an id_token_hint we issued names the user the client expects.
    // Its expiry does not matter; its signature does.
    let hinted_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let claims = state
                .keys
                .verify_signature(hint, ID_TOKEN_TYP, state.config.issuer_str())
                .ok()
                .filter(crate::oauth::claims::is_id_token)
                .ok_or_else(|| {
                    fail(OAuthError::invalid_request(
                        "id_token_hint is not an ID token we issued",
                    ))
                })?;
            claims.get("sub").and_then(|s| s.as_str()).map(str::to_string)
        }
    };
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
        form_post: target.form_post,
        // OIDC Core §5.5.1.1: a `sub` asked for by value names the user, as a hint does.
        hinted_sub: hinted_sub.or(demands.sub),
        claims,
        // acr_values are voluntary (OIDC Core §3.1.2.1), an essential acr claim is not;
        // either way, values we do not define are ignored.
        acr_values: if demands.acr_values.is_empty() {
            split_list(params.get("acr_values"))
        } else {
            demands.acr_values
        }
        .into_iter()
        .filter(|a| ACR_VALUES.contains(&a.as_str()))
        .collect(),
        dpop_jkt,
    })
}
