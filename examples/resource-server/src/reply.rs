//! What the protected routes answer: the caller's identity, or why not, in the shapes
//! RFC 6750 §3 gives bearer-token APIs, RFC 9449 §7.1 gives DPoP ones (and OIDC's
//! `login_required` for the session).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

/// A request let through, and whom for.
#[derive(Debug, Serialize)]
pub struct Granted {
    pub mode: &'static str,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl IntoResponse for Granted {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// A request refused. Descriptions end up inside a quoted header value, so they are fixed
/// strings without `"` or `\` (RFC 6750 §3), never text from the request or from Gatehouse.
#[derive(Debug)]
pub enum Refusal {
    /// No bearer token at all: RFC 6750 §3.1 says to name no error then.
    NoToken,
    InvalidToken(&'static str),
    /// A token refused under the DPoP scheme, or a DPoP-bound token sent as a bearer
    /// token: the challenge tells the caller to use DPoP (RFC 9449 §7.1, §7.2).
    DpopInvalidToken(&'static str),
    /// The DPoP proof is missing, malformed, for another request, replayed, or made with
    /// a key the token is not bound to.
    InvalidDpopProof(&'static str),
    LoginRequired,
    /// Gatehouse could not answer (down, 5xx, misconfigured): the caller may retry, and
    /// nothing was decided about the token.
    Unavailable(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match self {
            Refusal::NoToken => (
                StatusCode::UNAUTHORIZED,
                Some("Bearer".to_string()),
                json!({ "error_description": "send an access token: Authorization: Bearer <token>" }),
            ),
            Refusal::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                Some(format!("Bearer error=\"invalid_token\", error_description=\"{why}\"")),
                json!({ "error": "invalid_token", "error_description": why }),
            ),
            Refusal::DpopInvalidToken(why) => dpop_refusal("invalid_token", why),
            Refusal::InvalidDpopProof(why) => dpop_refusal("invalid_dpop_proof", why),
            Refusal::LoginRequired => (StatusCode::UNAUTHORIZED, None, json!({ "error": "login_required" })),
            Refusal::Unavailable(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                json!({ "error": "temporarily_unavailable", "error_description": why }),
            ),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl Refusal {
    /// The same refusal, challenging with the scheme the token came under: a caller who
    /// used DPoP is told what to fix in DPoP's terms (RFC 9449 §7.1).
    pub fn under(self, scheme: Scheme) -> Refusal {
        match (self, scheme) {
            (Refusal::InvalidToken(why), Scheme::Dpop) => Refusal::DpopInvalidToken(why),
            (refusal, _) => refusal,
        }
    }
}

fn dpop_refusal(error: &'static str, why: &'static str) -> (StatusCode, Option<String>, serde_json::Value) {
    let algs = crate::dpop::ALGS.join(" ");
    (
        StatusCode::UNAUTHORIZED,
        Some(format!(
            "DPoP error=\"{error}\", error_description=\"{why}\", algs=\"{algs}\""
        )),
        json!({ "error": error, "error_description": why }),
    )
}

/// How the token came: `Bearer` (RFC 6750) or `DPoP` (RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1) or `Authorization: DPoP
/// <token>` (RFC 9449 §7.1), and which. Another scheme counts as no token, since it is not
/// one this API understands.
pub fn presented(headers: &HeaderMap) -> Result<(Scheme, &str), Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Refusal::NoToken);
    };
    let value = value
        .to_str()
        .map_err(|_| Refusal::InvalidToken("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = match scheme {
        _ if scheme.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
        _ if scheme.eq_ignore_ascii_case("dpop") => Scheme::Dpop,
        _ => return Err(Refusal::NoToken),
    };
    let token = token.trim();
    // b64token (RFC 6750 §2.1), token68 for DPoP: what a JWT or an opaque token can be made of.
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err(Refusal::InvalidToken("the access token is malformed").under(scheme));
    }
    Ok((scheme, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_a_well_formed_bearer_or_dpop_token_is_taken() {
        assert_eq!(
            presented(&with_authorization("Bearer abc.def-_~+/=")).unwrap(),
            (Scheme::Bearer, "abc.def-_~+/=")
        );
        assert_eq!(
            presented(&with_authorization("bearer abc")).unwrap(),
            (Scheme::Bearer, "abc")
        );
        assert_eq!(
            presented(&with_authorization("DPoP abc")).unwrap(),
            (Scheme::Dpop, "abc")
        );
        assert!(matches!(presented(&HeaderMap::new()), Err(Refusal::NoToken)));
        assert!(matches!(
            presented(&with_authorization("Basic dXNlcjpwdw==")),
            Err(Refusal::NoToken)
        ));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b"] {
            assert!(
                matches!(presented(&with_authorization(bad)), Err(Refusal::InvalidToken(_))),
                "{bad:?}"
            );
        }
        // A malformed DPoP token is answered with the DPoP challenge.
        assert!(matches!(
            presented(&with_authorization("DPoP a b")),
            Err(Refusal::DpopInvalidToken(_))
        ));
    }
}
