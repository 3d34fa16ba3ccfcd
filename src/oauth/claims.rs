//! The claims of the tokens we sign: ID tokens (OIDC Core §2) and JWT access tokens
//! (RFC 9068 §2.2), the userinfo claims released per scope (OIDC Core §5.4) or asked for
//! by name (`Requested`, the `claims` parameter of §5.5), and the acr values we define.

use crate::users::Account;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub const ID_TOKEN_TYP: &str = "JWT";
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Authentication context classes (OIDC Core §2), numbered as Keycloak numbers them: the
/// user signed in during this authorization ("1"), or an existing session was reused ("0").
pub const ACR_FRESH: &str = "1";
pub const ACR_SESSION: &str = "0";
/// A sign-in with two factors (the session's `amr` holds `mfa`).
pub const ACR_MFA: &str = "mfa";
/// A phishing-resistant sign-in: a passkey was used (OpenID EAP ACR Values, `phr`).
pub const ACR_PHISHING_RESISTANT: &str = "phr";
pub const ACR_VALUES: &[&str] = &[ACR_SESSION, ACR_FRESH, ACR_MFA, ACR_PHISHING_RESISTANT];

/// What a signed token speaks about.
pub struct Subject<'a> {
    pub issuer: &'a str,
    /// What the client knows the user by (`subject::Subjects::for_client`).
    pub sub: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub grant_id: &'a str,
    pub session_id: Option<&'a str>,
    pub auth_time: i64,
    pub acr: &'a str,
    /// RFC 8176 method of the sign-in: `pwd`, or `fed` through an upstream.
    pub amr: &'a str,
    /// The upstream's id, for a `fed` sign-in.
    pub idp: Option<&'a str>,
}

/// RFC 9068 access token. `aud` is the issuer itself: the resource these tokens open
/// today is our userinfo endpoint. `gid` names the grant, so revoking the grant (code
/// replay, logout) stops the token at once wherever it is checked against us.
pub fn access_token(s: &Subject, jti: &str, now: i64, ttl: i64) -> Map<String, Value> {
    object(json!({
        "iss": s.issuer,
        "sub": s.sub,
        "aud": s.issuer,
        "client_id": s.client_id,
        "scope": s.scope,
        "jti": jti,
        "iat": now,
        "exp": now + ttl,
        "auth_time": s.auth_time,
        "acr": s.acr,
        "gid": s.grant_id,
    }))
}

/// ID token. Profile and email claims are not repeated here: the client has an access
/// token for userinfo (OIDC Core §5.4), and a token that travels less says less.
pub fn id_token(s: &Subject, nonce: Option<&str>, access_token: &str, now: i64, ttl: i64) -> Map<String, Value> {
    let mut claims = object(json!({
        "iss": s.issuer,
        "sub": s.sub,
        "aud": s.client_id,
        "iat": now,
        "exp": now + ttl,
        "auth_time": s.auth_time,
        "acr": s.acr,
        "at_hash": left_half_hash(access_token),
        "amr": s.amr.split(' ').collect::<Vec<_>>(),
    }));
    if let Some(idp) = s.idp {
        claims.insert("idp".into(), idp.into());
    }
    if let Some(sid) = s.session_id {
        claims.insert("sid".into(), sid.into());
    }
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    claims
}

/// Whether JWT claims under our key and `typ: JWT` are an ID token: a signed UserInfo
/// answer has the same `typ` and issuer but no `exp` (OIDC Core §5.3.2), and must not
/// pass for an `id_token_hint`.
pub fn is_id_token(claims: &Map<String, Value>) -> bool {
    claims.get("exp").is_some_and(Value::is_i64)
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the token's ASCII.
pub fn left_half_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The claims about a user we can release, each with the scope that releases it
/// (OIDC Core §5.4).
const USER_CLAIMS: &[(&str, &str)] = &[
    ("name", "profile"),
    ("given_name", "profile"),
    ("family_name", "profile"),
    ("preferred_username", "profile"),
    ("updated_at", "profile"),
    ("email", "email"),
    ("email_verified", "email"),
    ("address", "address"),
    ("phone_number", "phone"),
    ("phone_number_verified", "phone"),
];

fn user_claim(account: &Account, name: &str) -> Option<Value> {
    Some(match name {
        "name" => account.name().into(),
        "given_name" => account.given_name.clone().into(),
        "family_name" => account.family_name.clone().into(),
        "preferred_username" => account.username.clone().into(),
        "updated_at" => account.updated_at.into(),
        "email" => account.email.clone().into(),
        "email_verified" => (account.email_verified != 0).into(),
        // Claims with no value are left out (OIDC Core §5.3.2).
        "address" => account.contact.address_claim()?,
        "phone_number" => account.contact.phone_claim()?.into(),
        // Gatehouse sends no SMS: a number it holds was typed, never proven.
        "phone_number_verified" => account.contact.phone_claim().map(|_| false)?.into(),
        _ => return None,
    })
}

/// Userinfo claims: those of the granted `scopes`, plus the ones asked for by name; `sub`
/// is what the client knows the account by.
pub fn userinfo(sub: &str, account: &Account, scopes: &[&str], requested: &[String]) -> Map<String, Value> {
    let mut claims = object(json!({ "sub": sub }));
    for (name, scope) in USER_CLAIMS {
        if scopes.contains(scope) || requested.iter().any(|r| r == name) {
            if let Some(value) = user_claim(account, name) {
                claims.insert((*name).into(), value);
            }
        }
    }
    claims
}

/// The claims asked for by name for the ID token.
pub fn user_claims(account: &Account, names: &[String]) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|name| user_claim(account, name).map(|v| (name.clone(), v)))
        .collect()
}

/// See `Requested::demands`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Demands {
    pub acr_values: Vec<String>,
    pub sub: Option<String>,
}

/// The individual claims a client asked for with the `claims` parameter (OIDC Core §5.5),
/// kept to the ones we hold and the client may have. Essential or voluntary makes no
/// difference: we release what we hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
}

impl Requested {
    /// Reads the parameter: the claims to release, and what it demands of the sign-in.
    /// `may_have(scope)` says whether the client may be given the scope that releases a
    /// claim; names we do not hold (acr, auth_time, …) are not released.
    pub fn parse(raw: &str, may_have: impl Fn(&str) -> bool) -> Result<(Requested, Demands), &'static str> {
        let Ok(Value::Object(request)) = serde_json::from_str::<Value>(raw) else {
            return Err("claims must be a JSON object");
        };
        let names = |member: &str| -> Result<Vec<String>, &'static str> {
            match request.get(member) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(asked)) => Ok(USER_CLAIMS
                    .iter()
                    .filter(|(name, scope)| asked.contains_key(*name) && may_have(scope))
                    .map(|(name, _)| (*name).to_string())
                    .collect()),
                Some(_) => Err("claims.userinfo and claims.id_token must be JSON objects"),
            }
        };
        let requested = Requested {
            userinfo: names("userinfo")?,
            id_token: names("id_token")?,
        };
        Ok((requested, Self::demands(&request)))
    }

    /// What the request demands of the sign-in itself (OIDC Core §5.5.1.1): an essential
    /// `acr` among the values given, and the `sub` of a particular user.
    fn demands(request: &Map<String, Value>) -> Demands {
        let member = |name: &str| {
            ["id_token", "userinfo"]
                .iter()
                .find_map(|m| request.get(*m)?.get(name)?.as_object())
        };
        let acr_values = member("acr")
            .filter(|acr| acr.get("essential").and_then(Value::as_bool) == Some(true))
            .map(|acr| {
                let listed = acr.get("values").and_then(Value::as_array).cloned().unwrap_or_default();
                let single = acr.get("value").cloned().into_iter();
                listed
                    .into_iter()
                    .chain(single)
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let sub = member("sub")
            .and_then(|s| s.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Demands { acr_values, sub }
    }

    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty()
    }

    /// The scopes that would release these claims: what a third-party client needs consent for.
    pub fn scopes(&self) -> Vec<&'static str> {
        let mut scopes: Vec<&'static str> = Vec::new();
        for (name, scope) in USER_CLAIMS {
            if self.userinfo.iter().chain(&self.id_token).any(|n| n == name) && !scopes.contains(scope) {
                scopes.push(scope);
            }
        }
        scopes
    }

    /// Claims asked for by name ride only with tokens that carry their grant's whole scope:
    /// a token narrowed at refresh (RFC 6749 §6) gets none, so narrowing still narrows.
    pub fn applies(granted_scope: &str, token_scope: &str) -> bool {
        let mut granted: Vec<&str> = granted_scope.split_whitespace().collect();
        let mut token: Vec<&str> = token_scope.split_whitespace().collect();
        granted.sort_unstable();
        token.sort_unstable();
        granted == token
    }

    /// As stored with a code or grant: NULL when nothing was asked for.
    pub fn to_column(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_column(column: Option<&str>) -> Requested {
        column.and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default()
    }
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
    fn claims_request_keeps_what_we_hold_and_the_client_may_have() {
        let raw = r#"{"userinfo":{"name":{"essential":true},"email":null,"picture":null},
                      "id_token":{"auth_time":{"essential":true},"preferred_username":null}}"#;
        let (requested, _) = Requested::parse(raw, |scope| scope == "profile").unwrap();
        assert_eq!(requested.userinfo, vec!["name".to_string()]);
        assert_eq!(requested.id_token, vec!["preferred_username".to_string()]);
        assert_eq!(requested.scopes(), vec!["profile"]);
        let column = requested.to_column();
        assert_eq!(Requested::from_column(column.as_deref()), requested);
        assert_eq!(Requested::parse("{}", |_| true).unwrap().0.to_column(), None);
        assert!(Requested::parse("[1]", |_| true).is_err());
        let demands = Requested::parse(
            r#"{"id_token":{"acr":{"essential":true,"values":["1"]},"sub":{"value":"u1"}}}"#,
            |_| true,
        )
        .unwrap()
        .1;
        assert_eq!(
            demands,
            Demands {
                acr_values: vec!["1".into()],
                sub: Some("u1".into())
            }
        );
        let voluntary = Requested::parse(r#"{"id_token":{"acr":{"values":["1"]}}}"#, |_| true)
            .unwrap()
            .1;
        assert!(voluntary.acr_values.is_empty(), "only an essential acr is a demand");
        assert!(Requested::parse(r#"{"userinfo":[1]}"#, |_| true).is_err());
    }

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core Appendix A.3/A.4 example access token and its at_hash.
        assert_eq!(
            left_half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
