//! A parsed set of signing keys: which one signs now, the JWKS it publishes, and
//! verification of the tokens it signed.

use anyhow::{bail, Context};
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::{JwsHeader, JwsVerifier};
use josekit::jwt::JwtPayload;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// When a key signs, and whether it is still published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyMeta {
    pub kid: String,
    pub created_at: i64,
    /// Published from creation; used for signing from this time on.
    pub signing_from: i64,
    /// Set when retired: no longer signs, no longer published, its tokens no longer verify.
    #[serde(default)]
    pub retired_at: Option<i64>,
}

pub(super) struct LoadedKey {
    pub(super) meta: KeyMeta,
    pub(super) signer: RsassaJwsSigner,
    pub(super) verifier: RsassaJwsVerifier,
    pub(super) n: String,
    pub(super) e: String,
}

/// Every key in `keys/`, parsed.
pub struct KeySet {
    keys: Vec<LoadedKey>,
    jwks: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed or wrongly signed token")]
    BadSignature,
    #[error("unexpected token type")]
    WrongType,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token from another issuer")]
    WrongIssuer,
}

impl KeySet {
    /// A set of `keys` (in any order); refused when none of them may sign at `now`.
    /// `origin` names where they came from, for the error.
    pub(super) fn from_keys(mut keys: Vec<LoadedKey>, now: i64, origin: &str) -> anyhow::Result<KeySet> {
        keys.sort_by_key(|k| (k.meta.signing_from, k.meta.created_at));
        let set = KeySet {
            jwks: String::new(),
            keys,
        };
        if set.signing_key(now).is_none() {
            bail!("no usable signing key in {origin}: every key is retired or not yet active; run `gatehouse keys rotate`");
        }
        let jwks = set.render_jwks();
        Ok(KeySet { jwks, ..set })
    }

    /// The JWKS document: every non-retired public key, and nothing private.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    pub fn metas(&self) -> Vec<KeyMeta> {
        self.keys.iter().map(|k| k.meta.clone()).collect()
    }

    fn published(&self) -> impl Iterator<Item = &LoadedKey> {
        self.keys.iter().filter(|k| k.meta.retired_at.is_none())
    }

    /// The newest published key whose signing time has come.
    fn signing_key(&self, now: i64) -> Option<&LoadedKey> {
        self.published().filter(|k| k.meta.signing_from <= now).last()
    }

    fn render_jwks(&self) -> String {
        let keys: Vec<Value> = self
            .published()
            .map(|k| {
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256",
                    "kid": k.meta.kid, "n": k.n, "e": k.e,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// Signs `claims` as an RS256 JWS with the given `typ` header.
    pub fn sign(&self, typ: &str, claims: Map<String, Value>, now: i64) -> anyhow::Result<String> {
        let key = self.signing_key(now).context("no active signing key")?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(&key.meta.kid);
        let payload = JwtPayload::from_map(claims).context("invalid claims")?;
        josekit::jwt::encode_with_signer(&payload, &header, &key.signer).context("signing failed")
    }

    /// Verifies a token we issued: RS256 only, a `kid` of ours that is still published
    /// (header `alg`, `jku`, `jwk`, `x5u` never choose the key), the expected `typ`, `iss`,
    /// and `exp` against `now`.
    pub fn verify(&self, token: &str, typ: &str, issuer: &str, now: i64) -> Result<Map<String, Value>, VerifyError> {
        let claims = self.verify_signature(token, typ, issuer)?;
        // RFC 7519 §4.1.5: we never set `nbf`, but one that is there is honoured.
        if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now) {
            return Err(VerifyError::NotYetValid);
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now => Ok(claims),
            _ => Err(VerifyError::Expired),
        }
    }

    /// As [`KeySet::verify`] without the expiry check: for hints, where an expired token
    /// still says who it was about.
    pub fn verify_signature(&self, token: &str, typ: &str, issuer: &str) -> Result<Map<String, Value>, VerifyError> {
        let (payload, header) = josekit::jwt::decode_with_verifier_selector(token, |header| {
            if header.algorithm() != Some("RS256") {
                return Ok(None);
            }
            let found = header
                .key_id()
                .and_then(|kid| self.published().find(|k| k.meta.kid == kid));
            Ok(found.map(|k| &k.verifier as &dyn JwsVerifier))
        })
        .map_err(|_| VerifyError::BadSignature)?;
        let header_typ = header.token_type().unwrap_or_default();
        let typ_matches =
            header_typ.eq_ignore_ascii_case(typ) || header_typ.eq_ignore_ascii_case(&format!("application/{typ}"));
        if !typ_matches {
            return Err(VerifyError::WrongType);
        }
        let claims = payload.claims_set().clone();
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(VerifyError::WrongIssuer);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate, retire};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sign_verify_and_rejections() {
        let dir = tempfile::tempdir().unwrap();
        let set = KeySet::load_or_init(dir.path(), 2048, 1000).unwrap();
        let token = set
            .sign("at+jwt", claims(json!({"iss": "https://i", "exp": 2000})), 1000)
            .unwrap();
        assert!(set.verify(&token, "at+jwt", "https://i", 1500).is_ok());
        assert!(matches!(
            set.verify(&token, "JWT", "https://i", 1500),
            Err(VerifyError::WrongType)
        ));
        assert!(matches!(
            set.verify(&token, "at+jwt", "https://other", 1500),
            Err(VerifyError::WrongIssuer)
        ));
        assert!(matches!(
            set.verify(&token, "at+jwt", "https://i", 2000),
            Err(VerifyError::Expired)
        ));
        let early = set
            .sign(
                "at+jwt",
                claims(json!({"iss": "https://i", "exp": 2000, "nbf": 1600})),
                1000,
            )
            .unwrap();
        assert!(matches!(
            set.verify(&early, "at+jwt", "https://i", 1500),
            Err(VerifyError::NotYetValid)
        ));
        assert!(set.verify(&early, "at+jwt", "https://i", 1600).is_ok());
        let mut tampered = token.clone();
        tampered.push('A');
        assert!(set.verify(&tampered, "at+jwt", "https://i", 1500).is_err());
    }

    #[test]
    fn rotated_key_is_published_before_it_signs() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path(), 2048, 0, 0).unwrap();
        let second = generate(dir.path(), 2048, 100, 200).unwrap();
        let set = KeySet::load(dir.path(), 100).unwrap();
        assert!(set.jwks_json().contains(&second.kid));
        let kid_at = |now| {
            let token = set
                .sign("JWT", claims(json!({"iss": "i", "exp": 10_000})), now)
                .unwrap();
            let header = token.split('.').next().unwrap().to_string();
            String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
        };
        assert!(kid_at(150).contains(&first.kid));
        assert!(kid_at(250).contains(&second.kid));
        retire(dir.path(), &first.kid, 300).unwrap();
        let set = KeySet::load(dir.path(), 300).unwrap();
        assert!(!set.jwks_json().contains(&first.kid));
        assert!(!set.jwks_json().contains("\"d\""));
    }
}
