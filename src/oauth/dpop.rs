//! DPoP proofs (RFC 9449 §4): the JWT a client signs with its own key for one HTTP request,
//! checked as §4.3 lists, and the key's RFC 7638 thumbprint that tokens are bound to
//! (`cnf.jkt`, §6.1). Pure protocol logic: what was seen before (the `jti` replay cache)
//! and which nonces are current are the caller's, in `dpop_binding`.

use super::client_assertion::public_key_verifier;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The asymmetric algorithms a proof may use (§4.2); never `none` nor an HMAC.
pub const SIGNING_ALGS: &[&str] = &["ES256", "RS256"];

/// How old a proof may be (§4.3 step 11, §11.1). A proof is made for one request and sent
/// at once; the window bounds how long its `jti` must be remembered.
pub const MAX_AGE_SECS: i64 = 60;
/// How far a client's clock may run ahead of ours.
pub const MAX_SKEW_SECS: i64 = 5;

/// The longest `jti` we store: a random identifier needs far less (§4.2 asks for 96 bits).
const MAX_JTI_LEN: usize = 256;

/// The request a proof must be for.
pub struct Expected<'a> {
    /// The HTTP method, as `htm` must name it.
    pub method: &'a str,
    /// The endpoint's URL under the configured issuer; `htu` must name it.
    pub url: &'a str,
    /// At a protected resource, the access token `ath` must hash (§4.3 step 12).
    pub access_token: Option<&'a str>,
    pub now: i64,
}

/// A proof that passed every check that needs no state.
#[derive(Debug, Clone)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's public key.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

impl Proof {
    /// Until when its `jti` must be remembered: after that its `iat` is refused anyway.
    pub fn replay_expiry(&self) -> i64 {
        self.iat + MAX_AGE_SECS + 1
    }
}

/// Checks a proof against the request it came with (§4.3 steps 2–12, bar the nonce's
/// value and the replay cache). The error says precisely what is wrong.
pub fn check(jwt: &str, expected: &Expected) -> Result<Proof, String> {
    let header = header(jwt)?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("the proof's typ must be dpop+jwt".into());
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if !SIGNING_ALGS.contains(&alg) {
        return Err(format!("the proof's alg {alg:?} is not accepted; use ES256 or RS256"));
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or("the proof's header has no jwk")?;
    let verifier = match public_key_verifier(jwk).map_err(|e| format!("the proof's jwk: {e}"))? {
        Some((key_alg, verifier)) if key_alg == alg => verifier,
        _ => return Err(format!("the proof's jwk is not a key for {alg}")),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(jwt, verifier.as_ref())
        .map_err(|_| "the proof's signature does not verify with its jwk".to_string())?;
    let claims = payload.claims_set();
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        .ok_or("the proof needs a jti")?;
    if text("htm") != Some(expected.method) {
        return Err(format!("the proof's htm must be {}", expected.method));
    }
    if !same_target(text("htu").unwrap_or_default(), expected.url) {
        return Err(format!("the proof's htu must be {}", expected.url));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or("the proof needs an iat")?;
    if iat < expected.now - MAX_AGE_SECS || iat > expected.now + MAX_SKEW_SECS {
        return Err("the proof's iat is too far from the current time; make a fresh proof".into());
    }
    if let Some(token) = expected.access_token {
        if text("ath") != Some(access_token_hash(token).as_str()) {
            return Err("the proof's ath is not the hash of the access token".into());
        }
    }
    Ok(Proof {
        jkt: thumbprint(jwk)?,
        jti: jti.to_string(),
        iat,
        nonce: text("nonce").map(str::to_string),
    })
}

/// The JOSE header, read before anything is trusted, to find the key that verifies it.
fn header(jwt: &str) -> Result<Map<String, Value>, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let malformed = || "the DPoP header is not a signed JWT".to_string();
    if parts.len() != 3 {
        return Err(malformed());
    }
    let bytes = URL_SAFE_NO_PAD.decode(parts[0]).map_err(|_| malformed())?;
    serde_json::from_slice(&bytes).map_err(|_| malformed())
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
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, String> {
    let members: &[&str] = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        _ => return Err("the proof's jwk has no supported kty".into()),
    };
    let mut canonical = Map::new();
    for member in members {
        let value = jwk
            .get(*member)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the proof's jwk has no {member}"))?;
        canonical.insert((*member).to_string(), value.into());
    }
    // serde_json's Map keeps keys sorted and writes no whitespace.
    let json = Value::Object(canonical).to_string();
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes())))
}

/// A `dpop_jkt` value (§10) is a SHA-256 thumbprint: 43 base64url characters.
pub fn is_thumbprint(value: &str) -> bool {
    value.len() == 43 && URL_SAFE_NO_PAD.decode(value).is_ok_and(|b| b.len() == 32)
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
        // RFC 7638 §3.1.
        let rsa = json!({
            "kty": "RSA", "alg": "RS256", "kid": "2011-04-29", "e": "AQAB",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        });
        assert_eq!(
            thumbprint(&map(rsa)).as_deref(),
            Ok("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
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
        assert!(is_thumbprint("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
        assert!(!is_thumbprint("not-a-thumbprint"));
    }

    #[test]
    fn htu_ignores_query_fragment_and_case_of_host() {
        assert!(same_target(
            "https://AS.example/token?x=1#f",
            "https://as.example/token"
        ));
        assert!(same_target("https://as.example:443/token", "https://as.example/token"));
        assert!(!same_target("https://as.example/userinfo", "https://as.example/token"));
        assert!(!same_target("not a url", "https://as.example/token"));
    }

    #[test]
    fn a_header_that_is_not_a_jwt_is_refused() {
        let expected = Expected {
            method: "POST",
            url: "https://as.example/token",
            access_token: None,
            now: 0,
        };
        assert!(check("abc", &expected).is_err());
        let none = format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"typ":"dpop+jwt","alg":"none"}"#));
        assert!(check(&none, &expected).unwrap_err().contains("alg"));
        let hmac = format!(
            "{}.e30.x",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"dpop+jwt","alg":"HS256"}"#)
        );
        assert!(check(&hmac, &expected).unwrap_err().contains("alg"));
    }
}
