//! Signing keys: RSA key pairs kept as PKCS#8 PEM files in `keys/`, each with a small JSON
//! sidecar saying when it may start signing and whether it is retired. The only module
//! that touches josekit. Keys are parsed once at load; signing and verification use the
//! parsed keys.

use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::{JwsHeader, JwsVerifier, RS256};
use josekit::jwt::JwtPayload;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

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

struct LoadedKey {
    meta: KeyMeta,
    signer: RsassaJwsSigner,
    verifier: RsassaJwsVerifier,
    n: String,
    e: String,
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
    #[error("token from another issuer")]
    WrongIssuer,
}

impl KeySet {
    /// Loads every key in `dir`, generating a first one if there is none. Refuses keys that
    /// others can read.
    pub fn load_or_init(dir: &Path, rsa_bits: u32, now: i64) -> anyhow::Result<KeySet> {
        ensure_dir(dir)?;
        if pem_files(dir)?.is_empty() {
            generate(dir, rsa_bits, now, now)?;
        }
        KeySet::load(dir, now)
    }

    pub fn load(dir: &Path, now: i64) -> anyhow::Result<KeySet> {
        let mut keys = Vec::new();
        for path in pem_files(dir)? {
            keys.push(load_key(&path)?);
        }
        keys.sort_by_key(|k| (k.meta.signing_from, k.meta.created_at));
        let set = KeySet {
            jwks: String::new(),
            keys,
        };
        if set.signing_key(now).is_none() {
            bail!(
                "no usable signing key in {}: every key is retired or not yet active; run `gatehouse keys rotate`",
                dir.display()
            );
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

/// The key set a running server uses, reloaded when `keys/` changes on disk: a key added
/// by `gatehouse keys rotate` (on this host or, with a shared directory, another) is
/// published without a restart, and a retired one disappears.
pub struct Keys {
    dir: PathBuf,
    current: RwLock<Arc<KeySet>>,
    fingerprint: Mutex<String>,
}

impl Keys {
    pub fn load_or_init(dir: &Path, rsa_bits: u32, now: i64) -> anyhow::Result<Keys> {
        let set = KeySet::load_or_init(dir, rsa_bits, now)?;
        Ok(Keys {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(set)),
            fingerprint: Mutex::new(fingerprint(dir).unwrap_or_default()),
        })
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads when a key file was added, changed or removed. A directory that no longer
    /// loads (say, a key made world-readable) keeps the last good set and reports why.
    pub fn reload_if_changed(&self, now: i64) -> anyhow::Result<bool> {
        let seen = fingerprint(&self.dir)?;
        let mut last = self
            .fingerprint
            .lock()
            .map_err(|_| anyhow::anyhow!("key reload lock poisoned"))?;
        if *last == seen {
            return Ok(false);
        }
        let set = KeySet::load(&self.dir, now)?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(set);
        }
        *last = seen;
        Ok(true)
    }

    pub fn sign(&self, typ: &str, claims: Map<String, Value>, now: i64) -> anyhow::Result<String> {
        self.current().sign(typ, claims, now)
    }

    pub fn verify(&self, token: &str, typ: &str, issuer: &str, now: i64) -> Result<Map<String, Value>, VerifyError> {
        self.current().verify(token, typ, issuer, now)
    }

    pub fn verify_signature(&self, token: &str, typ: &str, issuer: &str) -> Result<Map<String, Value>, VerifyError> {
        self.current().verify_signature(token, typ, issuer)
    }

    pub fn jwks_json(&self) -> String {
        self.current().jwks_json().to_string()
    }
}

/// Names, sizes and modification times of the key files: cheap to compute, and it
/// changes whenever a key is written.
fn fingerprint(dir: &Path) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        parts.push(format!(
            "{}:{}:{modified}",
            entry.file_name().to_string_lossy(),
            meta.len()
        ));
    }
    parts.sort();
    Ok(parts.join("|"))
}

/// Whether `kid` may be retired at `now`: a newer key must have been signing for longer
/// than any token lives (`max_token_ttl`), so nothing the old key signed still verifies.
pub fn retire_check(set: &KeySet, kid: &str, now: i64, max_token_ttl: i64) -> Result<(), String> {
    let metas = set.metas();
    let target = metas
        .iter()
        .find(|m| m.kid == kid)
        .ok_or_else(|| format!("no key with kid {kid:?}"))?;
    let superseded_since = metas
        .iter()
        .filter(|m| {
            m.kid != kid && m.retired_at.is_none() && m.signing_from > target.signing_from && m.signing_from <= now
        })
        .map(|m| m.signing_from)
        .min();
    match superseded_since {
        None => Err("no newer key is signing yet: run `gatehouse keys rotate` first and wait for it to activate".into()),
        Some(since) if now - since < max_token_ttl => Err(format!(
            "tokens signed with this key may still be valid for {} more seconds; retire it after that (or pass --force)",
            max_token_ttl - (now - since)
        )),
        Some(_) => Ok(()),
    }
}

/// Checks a client's JWK Set for private_key_jwt: a `keys` array of public RSA or P-256
/// keys, no private members.
pub fn validate_client_jwks(json: &str) -> Result<(), String> {
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
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| map.contains_key(*m))
        {
            return Err("the JWK Set contains private key material; register public keys only".into());
        }
        let jwk = josekit::jwk::Jwk::from_map(map.clone()).map_err(|e| format!("invalid JWK: {e}"))?;
        let kid = jwk.key_id().map(str::to_string);
        match jwk.key_type() {
            "RSA" => {
                let verifier = RS256
                    .verifier_from_jwk(&jwk)
                    .map_err(|e| format!("invalid RSA key: {e}"))?;
                out.push((kid, "RS256", Box::new(verifier)));
            }
            "EC" => {
                let verifier = josekit::jws::ES256
                    .verifier_from_jwk(&jwk)
                    .map_err(|e| format!("invalid EC key (P-256 expected): {e}"))?;
                out.push((kid, "ES256", Box::new(verifier)));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Verifies a client assertion (RFC 7523) against the client's registered JWK Set and
/// returns its claims. The header's `alg` must match the key's type; `kid` picks the key
/// when given. Claim checks (iss, sub, aud, exp, jti) are the caller's.
pub fn verify_client_assertion(jwks_json: &str, token: &str) -> Result<Map<String, Value>, String> {
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

/// Creates a new key that signs from `signing_from` on. Returns its metadata.
pub fn generate(dir: &Path, rsa_bits: u32, now: i64, signing_from: i64) -> anyhow::Result<KeyMeta> {
    ensure_dir(dir)?;
    let pair = RS256.generate_key_pair(rsa_bits).context("RSA key generation failed")?;
    let public = pair.to_jwk_public_key();
    let (n, e) = modulus_exponent(&public)?;
    let kid = thumbprint(&n, &e);
    let meta = KeyMeta {
        kid: kid.clone(),
        created_at: now,
        signing_from,
        retired_at: None,
    };
    write_private(
        &dir.join(format!("{kid}.json")),
        serde_json::to_string_pretty(&meta)?.as_bytes(),
    )?;
    write_private(&dir.join(format!("{kid}.pem")), &pair.to_pem_private_key())?;
    Ok(meta)
}

/// Marks a key retired. It stops signing and leaves the JWKS at the next load.
pub fn retire(dir: &Path, kid: &str, now: i64) -> anyhow::Result<KeyMeta> {
    let path = dir.join(format!("{kid}.json"));
    if !kid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || !path.exists() {
        bail!("no key with kid {kid:?} in {}", dir.display());
    }
    let mut meta: KeyMeta = serde_json::from_slice(&fs::read(&path)?).context("unreadable key metadata")?;
    meta.retired_at = Some(now);
    write_private(&path, serde_json::to_string_pretty(&meta)?.as_bytes())?;
    Ok(meta)
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

fn load_key(path: &Path) -> anyhow::Result<LoadedKey> {
    let mode = fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "refusing to use {}: it is readable by other users (mode {:o}). Fix with: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let pem = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let pair = RS256
        .key_pair_from_pem(&pem)
        .with_context(|| format!("{} is not an RSA private key in PEM", path.display()))?;
    let public = pair.to_jwk_public_key();
    let (n, e) = modulus_exponent(&public)?;
    let bits = URL_SAFE_NO_PAD.decode(&n).map(|b| b.len() * 8).unwrap_or(0);
    if bits < 2048 {
        bail!(
            "refusing to use {}: RSA keys must be at least 2048 bits",
            path.display()
        );
    }
    let kid = thumbprint(&n, &e);
    let meta_path = path.with_extension("json");
    let meta = match fs::read(&meta_path) {
        Ok(bytes) => {
            let mut meta: KeyMeta = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not valid key metadata", meta_path.display()))?;
            meta.kid = kid;
            meta
        }
        // A PEM dropped in by hand, without a sidecar: treat it as active since ever.
        Err(_) => KeyMeta {
            kid,
            created_at: 0,
            signing_from: 0,
            retired_at: None,
        },
    };
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

fn pem_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "pem") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create the keys directory {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a file readable by its owner only, atomically (write then rename), so a
/// concurrent reader never sees half a key.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
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
        let mut tampered = token.clone();
        tampered.push('A');
        assert!(set.verify(&tampered, "at+jwt", "https://i", 1500).is_err());
    }

    #[test]
    fn world_readable_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let meta = generate(dir.path(), 2048, 0, 0).unwrap();
        let pem = dir.path().join(format!("{}.pem", meta.kid));
        assert_eq!(fs::metadata(&pem).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(
            fs::read_to_string(&pem)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----"),
            "PKCS#8"
        );
        fs::set_permissions(&pem, fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeySet::load(dir.path(), 0).err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
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
