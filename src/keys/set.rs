//! A parsed set of signing keys: which one signs now, the JWKS it publishes, and
//! verification of the tokens it signed.

use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::RS256;
use josekit::jws::{JwsHeader, JwsVerifier};
use josekit::jwt::JwtPayload;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

impl LoadedKey {
    /// Parses a PKCS#8 PEM RSA key; its `kid` is the public key's thumbprint, whatever
    /// `meta` said.
    pub(super) fn from_pem(pem: &[u8], mut meta: KeyMeta) -> anyhow::Result<LoadedKey> {
        let pair = RS256.key_pair_from_pem(pem).context("not an RSA private key in PEM")?;
        let public = pair.to_jwk_public_key();
        let (n, e) = modulus_exponent(&public)?;
        let bits = URL_SAFE_NO_PAD.decode(&n).map(|b| b.len() * 8).unwrap_or(0);
        if bits < 2048 {
            bail!("RSA keys must be at least 2048 bits");
        }
        meta.kid = thumbprint(&n, &e);
        let signer = RS256
            .signer_from_jwk(&pair.to_jwk_private_key())
            .context("cannot build signer")?;
        let verifier = RS256.verifier_from_jwk(&public).context("cannot build verifier")?;
        Ok(LoadedKey {
            meta,
            signer,
            verifier,
            n,
            e,
        })
    }
}

/// A new RSA key pair: its kid and its PKCS#8 PEM.
pub(super) fn generate_pem(rsa_bits: u32) -> anyhow::Result<(String, Vec<u8>)> {
    let pair = RS256.generate_key_pair(rsa_bits).context("RSA key generation failed")?;
    let (n, e) = modulus_exponent(&pair.to_jwk_public_key())?;
    Ok((thumbprint(&n, &e), pair.to_pem_private_key()))
}

/// RFC 7638 thumbprint of an RSA public key: SHA-256 over the members e, kty, n in
/// lexicographic order with no whitespace.
pub fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn modulus_exponent(jwk: &josekit::jwk::Jwk) -> anyhow::Result<(String, String)> {
    let get = |name: &str| {
        jwk.parameter(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("RSA key without {name}"))
    };
    Ok((get("n")?, get("e")?))
}

/// Every published or retired key, parsed.
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
    /// A set of one freshly generated key that signs from the epoch: what a first start
    /// signs with, for measuring the signer outside a server (the benchmark's bound).
    pub fn generated(rsa_bits: u32) -> anyhow::Result<KeySet> {
        let (kid, pem) = generate_pem(rsa_bits)?;
        let meta = KeyMeta {
            kid,
            created_at: 0,
            signing_from: 0,
            retired_at: None,
        };
        KeySet::from_keys(vec![LoadedKey::from_pem(&pem, meta)?], 0, "a generated key")
    }

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

    /// What is known of the key that signs at `now` (its age is a metric).
    pub fn signing_meta(&self, now: i64) -> Option<KeyMeta> {
        self.signing_key(now).map(|k| k.meta.clone())
    }

    /// Whether a key may sign at `now` (readiness).
    pub fn can_sign(&self, now: i64) -> bool {
        self.signing_key(now).is_some()
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
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn key(created_at: i64, signing_from: i64, retired_at: Option<i64>) -> LoadedKey {
        let (_, pem) = generate_pem(2048).unwrap();
        let meta = KeyMeta {
            kid: String::new(),
            created_at,
            signing_from,
            retired_at,
        };
        LoadedKey::from_pem(&pem, meta).unwrap()
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn sign_verify_and_rejections() {
        let set = KeySet::from_keys(vec![key(0, 0, None)], 1000, "test").unwrap();
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
        let (first, second) = (key(0, 0, None), key(100, 200, None));
        let (first_kid, second_kid) = (first.meta.kid.clone(), second.meta.kid.clone());
        let set = KeySet::from_keys(vec![first, second], 100, "test").unwrap();
        assert!(set.jwks_json().contains(&second_kid));
        let kid_at = |now| {
            let token = set
                .sign("JWT", claims(json!({"iss": "i", "exp": 10_000})), now)
                .unwrap();
            let header = token.split('.').next().unwrap().to_string();
            String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
        };
        assert!(kid_at(150).contains(&first_kid));
        assert!(kid_at(250).contains(&second_kid));
        let retired = KeySet::from_keys(vec![key(0, 0, Some(300)), key(100, 200, None)], 300, "test").unwrap();
        assert_eq!(
            retired.jwks_json().matches("\"kid\"").count(),
            1,
            "the retired key is not published"
        );
        assert!(!retired.jwks_json().contains("\"d\""));
    }
}
