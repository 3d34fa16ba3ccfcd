//! The JWTs the OP signs: parsed by hand so every header and claim can be inspected,
//! verified against the OP's JWKS, and forged (unsigned, or signed by a stranger) for the
//! logout modules that check the OP refuses them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use josekit::jws::{JwsSigner, JwsVerifier, RS256};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

#[derive(Debug, Clone)]
pub struct Jwt {
    pub raw: String,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn object(segment: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = B64
        .decode(segment)
        .map_err(|e| format!("{what} is not base64url: {e}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(format!("{what} is not a JSON object")),
    }
}

impl Jwt {
    pub fn parse(raw: &str) -> Result<Jwt, String> {
        let parts: Vec<&str> = raw.split('.').collect();
        if parts.len() != 3 {
            return Err(format!("a JWS has 3 parts, this has {}", parts.len()));
        }
        let signature = B64
            .decode(parts[2])
            .map_err(|e| format!("signature is not base64url: {e}"))?;
        Ok(Jwt {
            raw: raw.to_string(),
            header: object(parts[0], "header")?,
            claims: object(parts[1], "payload")?,
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature,
        })
    }

    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims
            .get(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    }

    /// Verifies an RS256 signature with the JWKS key the header's `kid` names (or, without
    /// a kid, the only RSA signing key).
    pub fn verify(&self, jwks: &Value) -> Result<(), String> {
        if self.alg() != "RS256" {
            return Err(format!("alg {:?} is not RS256", self.alg()));
        }
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no keys array")?;
        let kid = self.header.get("kid").and_then(Value::as_str);
        let candidates: Vec<&Value> = keys
            .iter()
            .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
            .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
            .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
            .collect();
        let key = match candidates.as_slice() {
            [one] => *one,
            [] => return Err(format!("no RSA key in the JWKS for kid {kid:?}")),
            _ => return Err("several JWKS keys match and the header names no kid".into()),
        };
        let map = key.as_object().cloned().ok_or("a JWKS key is not an object")?;
        let jwk = josekit::jwk::Jwk::from_map(map).map_err(|e| format!("JWKS key does not parse: {e}"))?;
        let verifier = RS256
            .verifier_from_jwk(&jwk)
            .map_err(|e| format!("JWKS key is not usable for RS256: {e}"))?;
        verifier
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| "the signature does not verify".into())
    }

    /// The same claims with `alg: none` and no signature.
    pub fn unsigned_copy(&self) -> String {
        let header = serde_json::json!({"alg": "none", "typ": "JWT"});
        format!(
            "{}.{}.",
            B64.encode(header.to_string()),
            B64.encode(Value::Object(self.claims.clone()).to_string())
        )
    }

    /// The same claims signed by a key the OP has never seen.
    pub fn foreign_copy(&self) -> Result<String, String> {
        let pair = RS256.generate_key_pair(2048).map_err(|e| e.to_string())?;
        let signer = RS256
            .signer_from_jwk(&pair.to_jwk_private_key())
            .map_err(|e| e.to_string())?;
        let mut header = self.header.clone();
        header.insert("kid".into(), Value::String("conformance-foreign-key".into()));
        let input = format!(
            "{}.{}",
            B64.encode(Value::Object(header).to_string()),
            B64.encode(Value::Object(self.claims.clone()).to_string())
        );
        let signature = signer.sign(input.as_bytes()).map_err(|e| e.to_string())?;
        Ok(format!("{input}.{}", B64.encode(signature)))
    }
}

/// The left half of the hash of `value` that `at_hash` and `c_hash` carry (OIDCC-3.1.3.6).
pub fn half_hash(alg: &str, value: &str) -> Option<String> {
    let digest: Vec<u8> = match alg.get(2..) {
        Some("256") => Sha256::digest(value.as_bytes()).to_vec(),
        Some("384") => Sha384::digest(value.as_bytes()).to_vec(),
        Some("512") => Sha512::digest(value.as_bytes()).to_vec(),
        _ => return None,
    };
    Some(B64.encode(&digest[..digest.len() / 2]))
}

/// An S256 PKCE pair: (verifier, challenge).
pub fn pkce_pair() -> (String, String) {
    let verifier = random_token(32);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `bytes` random bytes, base64url.
pub fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    B64.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OIDCC 1.0 Appendix A.3/A.4 style: computed independently with openssl.
        assert_eq!(
            half_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
    }

    #[test]
    fn forged_copies_do_not_verify() {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let signer = RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("k1");
        let header = B64.encode(r#"{"alg":"RS256","kid":"k1"}"#);
        let payload = B64.encode(r#"{"sub":"a"}"#);
        let sig = signer.sign(format!("{header}.{payload}").as_bytes()).unwrap();
        let raw = format!("{header}.{payload}.{}", B64.encode(sig));
        let jwks = serde_json::json!({"keys": [Value::Object(public.as_ref().clone())]});
        let jwt = Jwt::parse(&raw).unwrap();
        assert_eq!(jwt.verify(&jwks), Ok(()));
        let unsigned = Jwt::parse(&jwt.unsigned_copy()).unwrap();
        assert!(unsigned.verify(&jwks).is_err());
        let foreign = Jwt::parse(&jwt.foreign_copy().unwrap()).unwrap();
        assert!(foreign.verify(&jwks).is_err());
    }
}
