//! The ID token rules of OpenID Connect Core §2 and §3.1.3.7, as the suite's
//! ValidateIdToken, ValidateIdTokenSignature, ValidateIdTokenNonce, ValidateAtHash and
//! ValidateIdTokenStandardClaims check them.

use super::{Log, Stop};
use crate::jose::{half_hash, Jwt};
use serde_json::{Map, Value};

/// Tolerated clock difference between the OP and the runner.
const SKEW: i64 = 5 * 60;
const YEAR: i64 = 365 * 24 * 3600;

/// What the ID token's `nonce` must be.
#[derive(Debug, Clone, Copy)]
pub enum Nonce<'a> {
    Sent(&'a str),
    /// None was sent, so none may come back (OIDCC-3.1.2.1).
    NotSent,
    /// A refreshed ID token: OIDCC-12.2 says it SHOULD NOT carry one, the suite does not check.
    Refreshed,
}

pub struct Expect<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Nonce<'a>,
    pub access_token: Option<&'a str>,
    pub now: i64,
}

/// Parses, verifies and checks an ID token.
pub fn validate(log: &mut Log, raw: &str, jwks: &Value, expect: &Expect<'_>) -> Result<Jwt, Stop> {
    let jwt = Jwt::parse(raw)
        .map_err(|e| log.stop("ExtractIdToken", "OIDCC-2", format!("the id_token is not a JWS: {e}")))?;
    if let Err(e) = jwt.verify(jwks) {
        log.fail("ValidateIdTokenSignature", "OIDCC-3.1.3.7", e);
    }
    let iss = jwt.claim_str("iss").unwrap_or("");
    log.expect(
        iss == expect.issuer,
        "ValidateIdToken",
        "OIDCC-3.1.3.7-2",
        format!("iss {iss:?} is not the issuer"),
    );
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(a)) => a == expect.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expect.client_id)),
        _ => false,
    };
    log.expect(
        aud_ok,
        "ValidateIdToken",
        "OIDCC-3.1.3.7-3",
        format!("aud {:?} does not contain the client_id", jwt.claims.get("aud")),
    );
    if let Some(azp) = jwt.claims.get("azp") {
        log.expect(
            azp.as_str() == Some(expect.client_id),
            "ValidateIdToken",
            "OIDCC-3.1.3.7-5",
            format!("azp {azp} is not the client_id"),
        );
    }
    let now = expect.now;
    match jwt.claim_i64("exp") {
        None => log.fail("ValidateIdToken", "OIDCC-2", "no exp"),
        Some(exp) => {
            log.expect(
                exp + SKEW > now,
                "ValidateIdToken",
                "OIDCC-3.1.3.7-9",
                format!("exp {exp} is in the past"),
            );
            log.expect(
                exp < now + 50 * YEAR,
                "ValidateIdToken",
                "OIDCC-2",
                "exp is more than 50 years away",
            );
        }
    }
    match jwt.claim_i64("iat") {
        None => log.fail("ValidateIdToken", "OIDCC-2", "no iat"),
        Some(iat) => {
            log.expect(
                iat <= now + SKEW,
                "ValidateIdToken",
                "OIDCC-3.1.3.7-10",
                format!("iat {iat} is in the future"),
            );
            log.expect(
                iat >= now - SKEW,
                "ValidateIdToken",
                "OIDCC-3.1.3.7-10",
                format!("iat {iat} is more than 5 minutes old"),
            );
        }
    }
    if let Some(nbf) = jwt.claim_i64("nbf") {
        log.expect(
            nbf <= now + SKEW,
            "ValidateIdToken",
            "RFC7519-4.1.5",
            format!("nbf {nbf} is in the future"),
        );
    }
    if jwt.claims.contains_key("auth_time") {
        match jwt.claim_i64("auth_time") {
            None => log.fail("ValidateIdToken", "OIDCC-2", "auth_time is not a number"),
            Some(at) => {
                log.expect(
                    at <= now + SKEW,
                    "ValidateIdToken",
                    "OIDCC-2",
                    format!("auth_time {at} is in the future"),
                );
                log.expect(
                    at > now - YEAR,
                    "ValidateIdToken",
                    "OIDCC-2",
                    format!("auth_time {at} is more than a year ago"),
                );
            }
        }
    }
    if let Some(acr) = jwt.claims.get("acr") {
        log.expect(
            acr.as_str().is_some_and(|a| !a.is_empty()),
            "ValidateIdToken",
            "OIDCC-2",
            "acr is present but empty or not a string",
        );
    }
    match expect.nonce {
        Nonce::Sent(nonce) => {
            log.expect(
                jwt.claim_str("nonce") == Some(nonce),
                "ValidateIdTokenNonce",
                "OIDCC-3.1.3.7-11",
                format!("nonce {:?} was sent, {:?} came back", nonce, jwt.claim_str("nonce")),
            );
        }
        Nonce::Refreshed => {}
        Nonce::NotSent => {
            log.expect(
                !jwt.claims.contains_key("nonce"),
                "ValidateIdTokenNonce",
                "OIDCC-3.1.2.1",
                "a nonce came back although none was sent",
            );
        }
    }
    if let (Some(at_hash), Some(access_token)) = (jwt.claim_str("at_hash"), expect.access_token) {
        log.expect(
            half_hash(jwt.alg(), access_token).as_deref() == Some(at_hash),
            "ValidateAtHash",
            "OIDCC-3.2.2.9",
            "at_hash does not match the access token",
        );
    }
    standard_claims(log, &jwt.claims, "ValidateIdTokenStandardClaims");
    Ok(jwt)
}

/// Standard claims, where present, have the types OIDCC-5.1 gives them; `sub` is at most
/// 255 ASCII characters.
pub fn standard_claims(log: &mut Log, claims: &Map<String, Value>, condition: &str) {
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) => {
            log.expect(
                !sub.is_empty() && sub.len() <= 255 && sub.is_ascii(),
                condition,
                "OIDCC-2",
                format!("sub {sub:?} is not 1 to 255 ASCII characters"),
            );
        }
        None => log.fail(condition, "OIDCC-5.1", "sub is missing or not a string"),
    }
    let strings = [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
    ];
    for name in strings {
        if let Some(v) = claims.get(name) {
            log.expect(v.is_string(), condition, "OIDCC-5.1", format!("{name} is not a string"));
        }
    }
    for name in ["email_verified", "phone_number_verified"] {
        if let Some(v) = claims.get(name) {
            log.expect(
                v.is_boolean(),
                condition,
                "OIDCC-5.1",
                format!("{name} is not a boolean"),
            );
        }
    }
    if let Some(v) = claims.get("address") {
        log.expect(v.is_object(), condition, "OIDCC-5.1.1", "address is not an object");
    }
    if let Some(v) = claims.get("updated_at") {
        log.expect(v.is_number(), condition, "OIDCC-5.1", "updated_at is not a number");
    }
}

/// Data minimisation: with only `openid` requested, the ID token carries no user claims
/// (EnsureIdTokenDoesNotContainNonRequestedClaims, a warning).
pub fn minimal(log: &mut Log, jwt: &Jwt) {
    const ALLOWED: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "at_hash",
        "c_hash",
        "nbf",
        "jti",
        "sid",
    ];
    let extra: Vec<&String> = jwt.claims.keys().filter(|k| !ALLOWED.contains(&k.as_str())).collect();
    log.advise(
        extra.is_empty(),
        "EnsureIdTokenDoesNotContainNonRequestedClaims",
        "OIDCC-5.4",
        format!("the ID token has claims nobody requested: {extra:?}"),
    );
}
