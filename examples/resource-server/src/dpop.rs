//! DPoP-bound access tokens at a resource server (RFC 9449 §7). A token whose `cnf.jkt`
//! names a key is worth nothing without a proof, made with that key, for this very request:
//! so a stolen token cannot be replayed from elsewhere. Checked as Gatehouse's own /userinfo
//! does, in the order of §4.3.
//!
//! The proof's signature is verified by `jsonwebtoken`, which the JWT mode already uses:
//! `DecodingKey::from_ec_components`/`from_rsa_components` build the key from the proof's
//! `jwk` once its members are checked here (public, a kind that fits `alg`).

use crate::reply::{Refusal, Scheme};
use axum::http::{HeaderMap, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The algorithms a proof may use, as Gatehouse accepts them: asymmetric only, never `none`.
pub const ALGS: &[&str] = &["ES256", "RS256"];

/// How old a proof may be: it is made for one request and sent at once, and the window
/// bounds how long its `jti` must be remembered. Gatehouse's values.
pub const MAX_AGE_SECS: i64 = 60;
/// How far a client's clock may run ahead of ours.
pub const MAX_SKEW_SECS: i64 = 5;

/// A random identifier needs far less (§4.2 asks for 96 bits); longer ones are not stored.
const MAX_JTI_LEN: usize = 256;

/// Members that only a private or symmetric key has: a proof must carry the public key only.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The request a proof must be for.
pub struct Request<'a> {
    pub method: &'a Method,
    /// The URL the caller reached: this API's public URL and the request's path.
    pub url: &'a str,
    pub access_token: &'a str,
    pub now: i64,
}

/// Lets the request through only if the token's binding is honoured: a bound token (its
/// `cnf.jkt`) under the DPoP scheme with a good proof by that key, an unbound one as a
/// bearer token. `cnf` is the token's confirmation claim, from the JWT or introspection.
pub fn enforce(
    replays: &ReplayCache,
    headers: &HeaderMap,
    request: &Request,
    scheme: Scheme,
    cnf: Option<&Value>,
) -> Result<(), Refusal> {
    let jkt = match cnf {
        None => None,
        Some(cnf) => Some(
            cnf.get("jkt").and_then(Value::as_str).ok_or(
                // Bound to something (a certificate, say) this API cannot check: not usable here.
                Refusal::InvalidToken("the token is bound by a confirmation method this API does not support")
                    .under(scheme),
            )?,
        ),
    };
    match (scheme, jkt) {
        (Scheme::Bearer, None) => Ok(()),
        (Scheme::Bearer, Some(_)) => Err(Refusal::DpopInvalidToken(
            "the token is DPoP-bound; send it as Authorization: DPoP with a proof",
        )),
        (Scheme::Dpop, None) => Err(Refusal::DpopInvalidToken(
            "the token is not DPoP-bound; send it as a Bearer token",
        )),
        (Scheme::Dpop, Some(jkt)) => {
            let mut proofs = headers.get_all("dpop").iter();
            let proof = match (proofs.next(), proofs.next()) {
                (Some(proof), None) => proof.to_str().map_err(|_| Refusal::InvalidDpopProof(NOT_A_JWT))?,
                (None, _) => return Err(Refusal::InvalidDpopProof("a DPoP token needs a DPoP proof")),
                (Some(_), Some(_)) => return Err(Refusal::InvalidDpopProof("send exactly one DPoP header")),
            };
            let proof = check(proof, request).map_err(Refusal::InvalidDpopProof)?;
            if proof.jkt != jkt {
                return Err(Refusal::InvalidDpopProof(
                    "the proof's key is not the one the token is bound to",
                ));
            }
            if !replays.first_use(&proof.jkt, &proof.jti, proof.iat + MAX_AGE_SECS + 1, request.now) {
                return Err(Refusal::InvalidDpopProof(
                    "the proof was already used; make a fresh one for every request",
                ));
            }
            Ok(())
        }
    }
}

const NOT_A_JWT: &str = "the DPoP header is not a signed JWT";

/// A proof that passed every check that needs no state.
#[derive(Debug)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
}

#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
}

/// §4.3 steps 2–12 for a proof at a resource (`ath` required), bar the replay cache.
pub fn check(jwt: &str, request: &Request) -> Result<Proof, &'static str> {
    let header = header(jwt)?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("the proof's typ must be dpop+jwt");
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => Algorithm::ES256,
        Some("RS256") => Algorithm::RS256,
        _ => return Err("the proof's alg is not accepted; use ES256 or RS256"),
    };
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or("the proof's header has no jwk")?;
    let key = public_key(jwk, alg)?;
    let mut validation = Validation::new(alg);
    // The proof's own claims are checked below; it has no exp, aud or nbf.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(jwt, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => "the proof's signature does not verify with its jwk",
            _ => "the proof is not a JWT this API can read",
        })?
        .claims;
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        .ok_or("the proof needs a jti")?;
    if claims.htm.as_deref() != Some(request.method.as_str()) {
        return Err("the proof's htm is not this request's method");
    }
    if !same_target(claims.htu.as_deref().unwrap_or_default(), request.url) {
        return Err("the proof's htu is not this request's URL");
    }
    let iat = claims.iat.ok_or("the proof needs an iat")?;
    if iat < request.now - MAX_AGE_SECS || iat > request.now + MAX_SKEW_SECS {
        return Err("the proof's iat is too far from the current time; make a fresh proof");
    }
    if claims.ath.as_deref() != Some(access_token_hash(request.access_token).as_str()) {
        return Err("the proof's ath is not the hash of the access token");
    }
    Ok(Proof {
        jkt: thumbprint(jwk)?,
        jti,
        iat,
    })
}

/// The JOSE header as JSON, read before anything is trusted: `jsonwebtoken`'s own header
/// type would drop the members that tell a private key from a public one.
fn header(jwt: &str) -> Result<Map<String, Value>, &'static str> {
    let mut parts = jwt.split('.');
    let (Some(first), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(NOT_A_JWT);
    };
    let bytes = URL_SAFE_NO_PAD.decode(first).map_err(|_| NOT_A_JWT)?;
    serde_json::from_slice(&bytes).map_err(|_| NOT_A_JWT)
}

/// The proof's key, when it is public and of the kind `alg` needs (§4.3 step 6).
fn public_key(jwk: &Map<String, Value>, alg: Algorithm) -> Result<DecodingKey, &'static str> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err("the proof's jwk must be a public key");
    }
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kty = member("kty");
    let key = match (alg, kty, member("crv")) {
        (Algorithm::ES256, Some("EC"), Some("P-256")) => {
            DecodingKey::from_ec_components(member("x").unwrap_or_default(), member("y").unwrap_or_default())
        }
        (Algorithm::RS256, Some("RSA"), _) => {
            DecodingKey::from_rsa_components(member("n").unwrap_or_default(), member("e").unwrap_or_default())
        }
        _ => return Err("the proof's jwk is not a key for its alg"),
    };
    key.map_err(|_| "the proof's jwk is not a valid key")
}

/// §4.3 step 9: the URIs match without query and fragment. Both are parsed, so scheme and
/// host case, default ports and percent-encoding are normalised (RFC 3986 §6.2.2–6.2.3).
fn same_target(htu: &str, expected: &str) -> bool {
    let strip = |raw: &str| {
        url::Url::parse(raw).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        })
    };
    matches!((strip(htu), strip(expected)), (Some(a), Some(b)) if a == b)
}

/// `ath` (§4.2): base64url of the SHA-256 of the access token's ASCII.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The RFC 7638 thumbprint (SHA-256) of a public JWK: its required members only, in
/// lexicographic order, as JSON without whitespace.
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, &'static str> {
    let members: &[&str] = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        _ => return Err("the proof's jwk has no supported kty"),
    };
    let mut canonical = Map::new();
    for member in members {
        let value = jwk
            .get(*member)
            .and_then(Value::as_str)
            .ok_or("the proof's jwk lacks a member its kty needs")?;
        canonical.insert((*member).to_string(), value.into());
    }
    // serde_json's Map keeps keys sorted and writes no whitespace.
    let json = Value::Object(canonical).to_string();
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes())))
}

/// The proofs seen in the last `MAX_AGE_SECS`, by key and `jti` (§11.1). In memory, so it
/// protects one instance only: several instances behind a load balancer need a shared one
/// (Redis, the database), or a proof used at one could be replayed at another.
#[derive(Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl ReplayCache {
    /// Remembers the proof until `expires`; false if it was seen before. Entries past
    /// their expiry are dropped first: their `iat` would be refused anyway.
    pub fn first_use(&self, jkt: &str, jti: &str, expires: i64, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            // A poisoned lock means a panic elsewhere; refusing is the safe answer.
            return false;
        };
        seen.retain(|_, until| *until > now);
        seen.insert((jkt.to_string(), jti.to_string()), expires).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn thumbprints_match_the_rfc_examples() {
        // RFC 9449 §4.2's proof key, whose jkt §6.1 shows.
        let ec = json!({
            "kty": "EC", "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        });
        assert_eq!(
            thumbprint(&map(ec)).as_deref(),
            Ok("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
    }

    #[test]
    fn malformed_and_symmetric_proofs_are_refused() {
        let request = Request {
            method: &Method::GET,
            url: "http://api.example/jwt/hello",
            access_token: "t",
            now: 0,
        };
        assert_eq!(check("abc", &request).unwrap_err(), NOT_A_JWT);
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.e30.", b64(json!({ "typ": "dpop+jwt", "alg": "none" })));
        assert!(check(&none, &request).unwrap_err().contains("alg"));
        let hmac = json!({ "typ": "dpop+jwt", "alg": "HS256", "jwk": { "kty": "oct", "k": "AA" } });
        assert!(check(&format!("{}.e30.x", b64(hmac)), &request)
            .unwrap_err()
            .contains("alg"));
        let private = json!({ "typ": "dpop+jwt", "alg": "ES256",
            "jwk": { "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA" } });
        assert!(check(&format!("{}.e30.x", b64(private)), &request)
            .unwrap_err()
            .contains("public"));
    }

    #[test]
    fn a_proof_is_remembered_until_it_expires() {
        let cache = ReplayCache::default();
        assert!(cache.first_use("k", "1", 100, 0));
        assert!(!cache.first_use("k", "1", 100, 50));
        assert!(cache.first_use("other", "1", 100, 50), "jti is per key");
        assert!(
            cache.first_use("k", "1", 200, 100),
            "forgotten once its iat is refused anyway"
        );
    }

    #[test]
    fn a_token_bound_otherwise_than_by_jkt_is_refused() {
        let request = Request {
            method: &Method::GET,
            url: "http://api.example/jwt/hello",
            access_token: "t",
            now: 0,
        };
        let cnf = json!({ "x5t#S256": "abc" });
        let refusal = enforce(
            &ReplayCache::default(),
            &HeaderMap::new(),
            &request,
            Scheme::Bearer,
            Some(&cnf),
        );
        assert!(matches!(refusal, Err(Refusal::InvalidToken(_))));
    }
}
