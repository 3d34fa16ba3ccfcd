//! The keys of clients that authenticate with `private_key_jwt` (RFC 7523) or sign
//! request objects: checking a registered JWK Set, and verifying a JWT against it or
//! against the set the client publishes at its `jwks_uri`.

use crate::client_keys::KeysError;
use crate::clients::Client;
use crate::state::AppState;
use josekit::jws::{JwsVerifier, RS256};
use serde_json::{Map, Value};

/// Why a JWT the client signed was not accepted.
#[derive(Debug)]
pub enum SignedByClient {
    /// No keys, or its `jwks_uri` could not be fetched.
    Keys(KeysError),
    /// No key of its set verifies the signature.
    Signature(String),
}

impl std::fmt::Display for SignedByClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignedByClient::Keys(e) => write!(f, "{e}"),
            SignedByClient::Signature(e) => f.write_str(e),
        }
    }
}

/// Verifies a JWT the client signed (an assertion, a request object) with its keys,
/// registered or published. A signature its cached set does not verify is tried once more
/// against a fresh copy of the `jwks_uri` document: the client may have rotated its keys.
pub async fn verify_signed_by(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Map<String, Value>, SignedByClient> {
    let now = state.clock.now();
    let (jwks, fresh) = state
        .client_keys
        .get(&state.outbound, client, now, false)
        .await
        .map_err(SignedByClient::Keys)?;
    match verify(&jwks, token) {
        Ok(claims) => Ok(claims),
        Err(e) if fresh || client.jwks_uri.is_none() => Err(SignedByClient::Signature(e)),
        Err(first) => {
            let (jwks, fresh) = state
                .client_keys
                .get(&state.outbound, client, now, true)
                .await
                .map_err(SignedByClient::Keys)?;
            match fresh {
                true => verify(&jwks, token).map_err(SignedByClient::Signature),
                false => Err(SignedByClient::Signature(first)),
            }
        }
    }
}

/// Checks a client's JWK Set for private_key_jwt: a `keys` array of public RSA or P-256
/// keys, no private members.
pub fn validate_jwks(json: &str) -> Result<(), String> {
    let keys = client_verifiers(json)?;
    if keys.is_empty() {
        return Err("the JWK Set has no usable RS256 or ES256 public key".into());
    }
    Ok(())
}

/// (kid, alg, verifier) for each usable key of a client's JWK Set.
/// A client key usable for assertions: its kid (if any), the JWS alg it verifies, the verifier.
type ClientVerifier = (Option<String>, &'static str, Box<dyn JwsVerifier>);

fn client_verifiers(json: &str) -> Result<Vec<ClientVerifier>, String> {
    let set: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("a JWK Set needs a \"keys\" array")?;
    let mut out: Vec<ClientVerifier> = Vec::new();
    for key in keys {
        let map = key.as_object().ok_or("each key must be a JSON object")?;
        if let Some((alg, verifier)) = public_key_verifier(map)? {
            let kid = map.get("kid").and_then(Value::as_str).map(str::to_string);
            out.push((kid, alg, verifier));
        }
    }
    Ok(out)
}

/// The JWS alg a public key verifies, and its verifier.
pub type KeyVerifier = (&'static str, Box<dyn JwsVerifier>);

/// The JWS alg and verifier of one public JWK: RS256 for an RSA key, ES256 for a P-256
/// key, None for other key types. Private members are refused, not ignored: a client that
/// sends them has leaked its key. Shared with DPoP proofs, whose `jwk` header is one.
pub fn public_key_verifier(map: &Map<String, Value>) -> Result<Option<KeyVerifier>, String> {
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| map.contains_key(*m))
    {
        return Err("a key contains private key material; only public keys are accepted".into());
    }
    let jwk = josekit::jwk::Jwk::from_map(map.clone()).map_err(|e| format!("invalid JWK: {e}"))?;
    Ok(match jwk.key_type() {
        "RSA" => {
            let verifier = RS256
                .verifier_from_jwk(&jwk)
                .map_err(|e| format!("invalid RSA key: {e}"))?;
            Some(("RS256", Box::new(verifier)))
        }
        "EC" => {
            let verifier = josekit::jws::ES256
                .verifier_from_jwk(&jwk)
                .map_err(|e| format!("invalid EC key (P-256 expected): {e}"))?;
            Some(("ES256", Box::new(verifier)))
        }
        _ => None,
    })
}

/// Verifies a client assertion (RFC 7523) against the client's registered JWK Set and
/// returns its claims. The header's `alg` must match the key's type; `kid` picks the key
/// when given. Claim checks (iss, sub, aud, exp, jti) are the caller's.
pub fn verify(jwks_json: &str, token: &str) -> Result<Map<String, Value>, String> {
    let verifiers = client_verifiers(jwks_json)?;
    let (payload, _) = josekit::jwt::decode_with_verifier_selector(token, |header| {
        let alg = header.algorithm().unwrap_or_default();
        let kid = header.key_id();
        Ok(verifiers
            .iter()
            .find(|(key_kid, key_alg, _)| *key_alg == alg && (kid.is_none() || key_kid.as_deref() == kid))
            .map(|(_, _, v)| v.as_ref()))
    })
    .map_err(|_| "the client assertion signature does not verify with the registered keys".to_string())?;
    Ok(payload.claims_set().clone())
}
