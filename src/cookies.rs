//! Cookies, built and parsed with the `cookie` crate. Every value we set is one of our own
//! random tokens (or empty, to delete), checked by shape before it goes into a header, so
//! nothing from a request can add an attribute; a header that cannot be built is an
//! error, never a silently empty cookie.

use crate::error::AppError;
use crate::secrets;
use axum::http::{header, HeaderMap, HeaderValue};
pub use cookie::SameSite;
use cookie::{time::Duration, Cookie};

/// Where a cookie is sent, and how.
pub struct Scope {
    pub path: &'static str,
    pub same_site: SameSite,
    /// `Secure`: set whenever the issuer is https.
    pub secure: bool,
}

/// A `Set-Cookie` value, always HttpOnly. `max_age` None makes a browser-session cookie;
/// Some(0) with an empty value deletes it.
pub fn set(name: &str, value: &str, scope: &Scope, max_age: Option<i64>) -> Result<HeaderValue, AppError> {
    if !value.is_empty() && !secrets::is_token(value) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "refusing to set cookie {name}: the value is not one of our tokens"
        )));
    }
    let mut cookie = Cookie::build((name.to_string(), value.to_string()))
        .path(scope.path)
        .http_only(true)
        .same_site(scope.same_site)
        .secure(scope.secure);
    if let Some(age) = max_age {
        cookie = cookie.max_age(Duration::seconds(age));
    }
    HeaderValue::from_str(&cookie.build().to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot build the Set-Cookie header for {name}: {e}")))
}

/// The value of cookie `name` in the request, if any and not empty.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAX: Scope = Scope {
        path: "/",
        same_site: SameSite::Lax,
        secure: true,
    };

    #[test]
    fn set_cookie_carries_our_hardening() {
        let token = secrets::random_token();
        let value = set("__Host-s", &token, &LAX, None).unwrap();
        let text = value.to_str().unwrap();
        for part in ["__Host-s=", "HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(text.contains(part), "{text}");
        }
        assert!(set("s", "", &LAX, Some(0))
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
    }

    #[test]
    fn values_that_are_not_our_tokens_are_refused() {
        assert!(set("s", "x; Domain=evil.example", &LAX, None).is_err());
        assert!(set("s", "abc", &LAX, None).is_err());
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=3; e="));
        assert_eq!(read(&headers, "b").as_deref(), Some("2"));
        assert_eq!(read(&headers, "c").as_deref(), Some("3"));
        assert_eq!(read(&headers, "d"), None);
        assert_eq!(read(&headers, "e"), None);
    }
}
