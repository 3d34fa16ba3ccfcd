//! Who an upstream says the user is, from claims it signed. Only the ID token is signed,
//! so it is the source of truth; UserInfo fills in only what the ID token lacks, and an
//! email and its `email_verified` always come from the same source (checklist C21).

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The upstream's issuer, as stored: the key with `subject`.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// True only when the same source that gave `email` said literally `true`.
    pub email_verified: bool,
    pub given_name: String,
    pub family_name: String,
    /// The ID token's `amr` said `mfa`: believed only for an upstream with `trust_amr`.
    #[serde(default)]
    pub upstream_mfa: bool,
}

/// Builds the identity from the verified ID token's claims and, when the ID token has no
/// email, UserInfo's (whose `sub` must be the ID token's, OIDC Core §5.3.2).
pub fn from_claims(issuer: &str, id_token: &Map<String, Value>, userinfo: Option<&Map<String, Value>>) -> Identity {
    let subject = text(id_token, "sub").unwrap_or_default();
    let userinfo = userinfo.filter(|u| text(u, "sub").as_deref() == Some(subject.as_str()));
    let (email, email_verified) = match text(id_token, "email") {
        Some(email) => (Some(email), verified(id_token)),
        None => match userinfo.and_then(|u| text(u, "email").map(|e| (e, verified(u)))) {
            Some((email, verified)) => (Some(email), verified),
            None => (None, false),
        },
    };
    let name = |claim: &str| {
        text(id_token, claim)
            .or_else(|| userinfo.and_then(|u| text(u, claim)))
            .unwrap_or_default()
    };
    Identity {
        issuer: issuer.to_string(),
        subject,
        email,
        email_verified,
        given_name: name("given_name"),
        family_name: name("family_name"),
        upstream_mfa: id_token
            .get("amr")
            .and_then(Value::as_array)
            .is_some_and(|amr| amr.iter().any(|v| v.as_str() == Some("mfa"))),
    }
}

fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `email_verified` counts only as the JSON value `true`: not "true", not 1, not absent.
fn verified(claims: &Map<String, Value>) -> bool {
    claims.get("email_verified") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn an_upstream_mfa_is_read_from_the_id_tokens_amr_only() {
        let id_token = map(json!({"sub": "u1", "amr": ["pwd", "otp", "mfa"]}));
        assert!(from_claims("https://up", &id_token, None).upstream_mfa);
        let one = map(json!({"sub": "u1", "amr": ["pwd"]}));
        let userinfo = map(json!({"sub": "u1", "amr": ["mfa"]}));
        assert!(!from_claims("https://up", &one, Some(&userinfo)).upstream_mfa);
        let odd = map(json!({"sub": "u1", "amr": "mfa"}));
        assert!(
            !from_claims("https://up", &odd, None).upstream_mfa,
            "amr is an array (OIDC Core §2)"
        );
    }

    #[test]
    fn only_a_literal_true_verifies_an_email() {
        for (claim, expected) in [
            (json!(true), true),
            (json!("true"), false),
            (json!(1), false),
            (json!(false), false),
        ] {
            let id = map(json!({ "sub": "1", "email": "a@x.example", "email_verified": claim }));
            assert_eq!(from_claims("https://up", &id, None).email_verified, expected, "{claim}");
        }
        let id = map(json!({ "sub": "1", "email": "a@x.example" }));
        assert!(!from_claims("https://up", &id, None).email_verified);
    }

    #[test]
    fn a_userinfo_email_is_never_verified_by_the_id_token_checklist_c21() {
        let id = map(json!({ "sub": "1", "email_verified": true }));
        let ui = map(json!({ "sub": "1", "email": "victim@x.example" }));
        let identity = from_claims("https://up", &id, Some(&ui));
        assert_eq!(identity.email.as_deref(), Some("victim@x.example"));
        assert!(!identity.email_verified);
        // The ID token's email wins over UserInfo's, verified flag and all.
        let id = map(json!({ "sub": "1", "email": "a@x.example", "email_verified": false }));
        let ui = map(json!({ "sub": "1", "email": "b@x.example", "email_verified": true }));
        let identity = from_claims("https://up", &id, Some(&ui));
        assert_eq!(identity.email.as_deref(), Some("a@x.example"));
        assert!(!identity.email_verified);
    }

    #[test]
    fn userinfo_about_another_subject_is_ignored() {
        let id = map(json!({ "sub": "1" }));
        let ui = map(json!({ "sub": "2", "email": "b@x.example", "email_verified": true, "given_name": "B" }));
        let identity = from_claims("https://up", &id, Some(&ui));
        assert_eq!(identity.email, None);
        assert_eq!(identity.given_name, "");
    }
}
