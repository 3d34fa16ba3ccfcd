//! The small HTTP helpers that protocol endpoints and account pages share: strict
//! parsing of `application/x-www-form-urlencoded` parameters (a repeated parameter or
//! bytes that are not UTF-8 are errors, RFC 6749 §3.1, and an empty value counts as
//! absent), and the one redirect response we send.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Largest request body or query we parse. Real requests are a few hundred bytes. Every
/// handler reads its body through [`read_form`], so this is the one body limit there is.
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(input: &[u8]) -> Result<Params, String> {
        if input.len() > MAX_PARAMS_BYTES {
            return Err(format!("request parameters exceed {MAX_PARAMS_BYTES} bytes"));
        }
        let mut map = HashMap::new();
        for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if map.contains_key(&name) {
                return Err(format!("parameter {name:?} is repeated"));
            }
            map.insert(name, value);
        }
        Ok(Params(map))
    }

    /// The value of `name`, treating an empty value as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("missing parameter {name:?}"))
    }

    /// These parameters with `overrides` replacing (or adding) values and `removed` gone:
    /// a request object's parameters over the URL's (OIDC Core §6.1).
    pub fn merged(&self, overrides: impl IntoIterator<Item = (String, String)>, removed: &str) -> Params {
        let mut map = self.0.clone();
        map.remove(removed);
        map.extend(overrides);
        Params(map)
    }
}

fn decode(raw: &[u8]) -> Result<String, String> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "parameters must be UTF-8".to_string())
}

/// Bodies up to this size are read to the end before being refused as too large, so the
/// client reliably receives our 400 instead of a connection reset mid-upload.
const DRAIN_LIMIT: usize = 256 * 1024;

/// Reads a form-encoded request body: the content type must say so, and a body larger
/// than [`MAX_PARAMS_BYTES`] is refused.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Params, String> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err("the body must be application/x-www-form-urlencoded".into());
    }
    let too_large = || format!("the request body exceeds {MAX_PARAMS_BYTES} bytes");
    let bytes = axum::body::to_bytes(body, DRAIN_LIMIT).await.map_err(|_| too_large())?;
    if bytes.len() > MAX_PARAMS_BYTES {
        return Err(too_large());
    }
    Params::parse(&bytes)
}

/// A space-separated list such as `scope` or `prompt`, in order, without duplicates.
pub fn split_list(value: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for item in value.unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
        if !items.iter().any(|i| i == item) {
            items.push(item.to_string());
        }
    }
    items
}

/// 302 Found; never 307, which would re-post a login form to the client (RFC 9700 §4.12).
pub fn found(location: &str) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"a=1&b=x+y%20z&c=&d").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y z"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), None);
    }

    #[test]
    fn refuses_repeats_bad_utf8_and_oversize() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        assert!(Params::parse(b"a=%ff").is_err());
        assert!(Params::parse(&vec![b'a'; MAX_PARAMS_BYTES + 1]).is_err());
    }

    #[test]
    fn lists_dedupe() {
        assert_eq!(split_list(Some("openid  email openid")), vec!["openid", "email"]);
    }
}
