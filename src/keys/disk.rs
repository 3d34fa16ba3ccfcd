//! The on-disk key store: RSA key pairs as PKCS#8 PEM files in `keys/`, each with a JSON
//! sidecar saying when it may start signing and whether it is retired. Files are written
//! owner-only and atomically; a key others can read is refused.

use super::set::{KeyMeta, KeySet, LoadedKey};
use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::RS256;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
        let keys = pem_files(dir)?
            .iter()
            .map(|path| load_key(path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        KeySet::from_keys(keys, now, &dir.display().to_string())
    }
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

/// A key file must belong to the user Gatehouse runs as: one another user owns could be
/// swapped under us. The process's own user is the owner of `/proc/self` (Linux); where
/// that is not available the check is skipped.
fn refuse_foreign_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = fs::metadata("/proc/self").map(|m| m.uid()) else {
        return Ok(());
    };
    let owner = fs::metadata(path)?.uid();
    if owner != me {
        bail!(
            "refusing to use {}: it belongs to user {owner}, not to the user Gatehouse runs as ({me}). Fix with: chown {me} {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
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
    refuse_foreign_owner(path)?;
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

/// Names, sizes and modification times of the key files: cheap to compute, and it
/// changes whenever a key is written.
pub(super) fn fingerprint(dir: &Path) -> anyhow::Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn keys_owned_by_another_user_are_refused_checklist_b10() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let meta = generate(dir.path(), 2048, 0, 0).unwrap();
        let pem = dir.path().join(format!("{}.pem", meta.kid));
        assert!(KeySet::load(dir.path(), 0).is_ok(), "our own key loads");
        // Only root can give a file away; elsewhere the refusal cannot be staged.
        if fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0) {
            std::os::unix::fs::chown(&pem, Some(65534), None).unwrap();
            let err = KeySet::load(dir.path(), 0).err().unwrap().to_string();
            assert!(err.contains("belongs to user 65534"), "{err}");
        }
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
}
