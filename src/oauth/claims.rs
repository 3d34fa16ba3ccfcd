//! The claims of the tokens we sign: ID tokens (OIDC Core §2) and JWT access tokens
//! (RFC 9068 §2.2), plus the userinfo claims released per scope (OIDC Core §5.4).

use crate::accounts::Account;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub const ID_TOKEN_TYP: &str = "JWT";
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// What a signed token speaks about.
pub struct Subject<'a> {
    pub issuer: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub grant_id: &'a str,
    pub session_id: Option<&'a str>,
    pub auth_time: i64,
}

/// RFC 9068 access token. `aud` is the issuer itself: the resource these tokens open
/// today is our userinfo endpoint. `gid` names the grant, so revoking the grant (code
/// replay, logout) stops the token at once wherever it is checked against us.
pub fn access_token(s: &Subject, jti: &str, now: i64, ttl: i64) -> Map<String, Value> {
    object(json!({
        "iss": s.issuer,
        "sub": s.user_id,
        "aud": s.issuer,
        "client_id": s.client_id,
        "scope": s.scope,
        "jti": jti,
        "iat": now,
        "exp": now + ttl,
        "auth_time": s.auth_time,
        "gid": s.grant_id,
    }))
}

/// ID token. Profile and email claims are not repeated here: the client has an access
/// token for userinfo (OIDC Core §5.4), and a token that travels less says less.
pub fn id_token(s: &Subject, nonce: Option<&str>, access_token: &str, now: i64, ttl: i64) -> Map<String, Value> {
    let mut claims = object(json!({
        "iss": s.issuer,
        "sub": s.user_id,
        "aud": s.client_id,
        "iat": now,
        "exp": now + ttl,
        "auth_time": s.auth_time,
        "at_hash": left_half_hash(access_token),
    }));
    if let Some(sid) = s.session_id {
        claims.insert("sid".into(), sid.into());
    }
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    claims
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the token's ASCII.
pub fn left_half_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Userinfo claims for the granted `scopes`.
pub fn userinfo(account: &Account, scopes: &[&str]) -> Map<String, Value> {
    let mut claims = object(json!({ "sub": account.id }));
    if scopes.contains(&"profile") {
        claims.insert("name".into(), account.name().into());
        claims.insert("given_name".into(), account.given_name.clone().into());
        claims.insert("family_name".into(), account.family_name.clone().into());
        claims.insert("preferred_username".into(), account.username.clone().into());
        claims.insert("updated_at".into(), account.updated_at.into());
    }
    if scopes.contains(&"email") {
        claims.insert("email".into(), account.email.clone().into());
        claims.insert("email_verified".into(), (account.email_verified != 0).into());
    }
    claims
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core Appendix A.3/A.4 example access token and its at_hash.
        assert_eq!(
            left_half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
