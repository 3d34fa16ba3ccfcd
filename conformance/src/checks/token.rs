//! The token endpoint's answer (RFC 6749 §5.1, OIDCC-3.1.3.3).

use super::{strong_secret, Log, Stop};
use serde_json::Value;

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub cache_control: String,
    pub body: String,
}

/// A successful token response: returns the JSON.
pub fn success(log: &mut Log, answer: &Answer, refresh: bool) -> Result<Value, Stop> {
    let json: Option<Value> = serde_json::from_str(&answer.body).ok();
    if answer.status != 200 {
        let error = json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        return Err(log.stop(
            "CheckTokenEndpointHttpStatus200",
            "RFC6749-5.1",
            format!("the token endpoint answered {} (error {error})", answer.status),
        ));
    }
    log.expect(
        answer.content_type.starts_with("application/json"),
        "CheckTokenEndpointReturnedJsonContentType",
        "RFC6749-5.1",
        format!("content type {:?}", answer.content_type),
    );
    let Some(json) = json.filter(Value::is_object) else {
        return Err(log.stop(
            "ParseTokenEndpointResponse",
            "RFC6749-5.1",
            "the body is not a JSON object",
        ));
    };
    if refresh {
        log.expect(
            answer.cache_control.to_ascii_lowercase().contains("no-store"),
            "CheckTokenEndpointCacheHeaders",
            "RFC6749-5.1",
            format!("Cache-Control is {:?}; no-store is required", answer.cache_control),
        );
    }
    let access_token = json.get("access_token").and_then(Value::as_str).unwrap_or("");
    log.require(
        !access_token.is_empty(),
        "CheckForAccessTokenValue",
        "RFC6749-5.1",
        "no access_token",
    )?;
    if refresh {
        strong_secret(log, "access token", access_token, false);
    }
    log.expect(
        json.get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "CheckTokenTypeIsBearer",
        "RFC6750-4",
        format!("token_type is {:?}", json.get("token_type")),
    );
    match json.get("expires_in") {
        None => {
            log.warn("CheckForExpiresIn", "RFC6749-5.1", "no expires_in");
        }
        Some(v) => {
            let ok = v.as_i64().is_some_and(|s| s > 0 && s < 365 * 24 * 3600);
            log.expect(
                ok,
                "ValidateExpiresIn",
                "RFC6749-5.1",
                format!("expires_in {v} is not a positive number under a year"),
            );
        }
    }
    if !refresh {
        log.require(
            json.get("id_token").and_then(Value::as_str).is_some(),
            "ExtractIdTokenFromTokenResponse",
            "OIDCC-3.1.3.3",
            "no id_token in the token response",
        )?;
    }
    Ok(json)
}

/// A refresh token's form: allowed characters, length and entropy (OIDCC-12, RFC 6749 §10.10).
pub fn refresh_token(log: &mut Log, token: &str) {
    log.expect(
        token.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "EnsureRefreshTokenContainsAllowedCharactersOnly",
        "RFC6749-A.17",
        "the refresh token has characters outside %x20-7E",
    );
    strong_secret(log, "refresh token", token, true);
}

/// An error from the token endpoint: HTTP 400, JSON, the named error.
pub fn error(log: &mut Log, answer: &Answer, expected: &str, condition: &str) {
    log.expect(
        answer.status == 400,
        condition,
        "RFC6749-5.2",
        format!("expected HTTP 400, got {}", answer.status),
    );
    log.expect(
        answer.content_type.starts_with("application/json"),
        "CheckTokenEndpointReturnedJsonContentType",
        "RFC6749-5.2",
        format!("content type {:?}", answer.content_type),
    );
    let error = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|j| j.get("error").and_then(Value::as_str).map(str::to_string));
    log.expect(
        error.as_deref() == Some(expected),
        condition,
        "RFC6749-5.2",
        format!("expected error={expected}, got {error:?}"),
    );
}
