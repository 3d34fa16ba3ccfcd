//! The key-encryption key (KEK): 32 random bytes that seal the signing keys stored in the
//! database (AES-256-GCM, a fresh 96-bit nonce per seal, the `kid` as associated data so
//! a sealed key cannot be passed off under another row). It comes from
//! `keys.encryption_key` (base64; also `GATEHOUSE_KEYS__ENCRYPTION_KEY`), else
//! `keys.encryption_key_file`, else `keys/encryption.key`, generated on first start for
//! the single-instance case. Every instance sharing a database needs the same one.

use super::disk::{check_private, ensure_dir, write_private};
use crate::config::KeySettings;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::ExposeSecret;
use std::path::Path;

const NONCE_LEN: usize = 12;

pub struct Kek {
    cipher: Aes256Gcm,
}

impl Kek {
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Kek> {
        if bytes.len() != 32 {
            bail!("a key-encryption key is 32 bytes, got {}", bytes.len());
        }
        Ok(Kek {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        })
    }

    /// The configured KEK, or the one kept in `keys_dir` (made now if there is none).
    pub fn resolve(settings: &KeySettings, keys_dir: &Path) -> anyhow::Result<Kek> {
        if let Some(key) = &settings.encryption_key {
            return decode(key.expose_secret()).context("invalid `keys.encryption_key`");
        }
        if let Some(path) = &settings.encryption_key_file {
            return read(path).context("invalid `keys.encryption_key_file`");
        }
        let path = keys_dir.join("encryption.key");
        if path.exists() {
            return read(&path);
        }
        ensure_dir(keys_dir)?;
        let bytes: [u8; 32] = rand::random();
        write_private(&path, format!("{}\n", STANDARD.encode(bytes)).as_bytes())?;
        tracing::warn!(
            path = %path.display(),
            "generated a key-encryption key for the signing keys; instances sharing this database need the same one (keys.encryption_key_file)"
        );
        Kek::from_bytes(&bytes)
    }

    /// Seals `plain` for the row of `kid`.
    pub fn seal(&self, kid: &str, plain: &[u8]) -> anyhow::Result<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing the key {kid} failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// Opens what `seal` made for `kid`. Fails for another KEK, another kid, or any change.
    pub fn open(&self, kid: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).context("a sealed key is not base64")?;
        if bytes.len() <= NONCE_LEN {
            bail!("the sealed key {kid} is truncated");
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: kid.as_bytes() })
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot open the signing key {kid}: it was sealed with another key-encryption key (give every instance the same keys.encryption_key_file), or it was altered"
                )
            })
    }
}

fn decode(text: &str) -> anyhow::Result<Kek> {
    let bytes = STANDARD
        .decode(text.trim())
        .context("not base64 (make one with: head -c 32 /dev/urandom | base64)")?;
    Kek::from_bytes(&bytes)
}

fn read(path: &Path) -> anyhow::Result<Kek> {
    check_private(path)?;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode(&text).with_context(|| format!("{} does not hold a key-encryption key", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_kek_and_kid() {
        let kek = Kek::from_bytes(&[7; 32]).unwrap();
        let sealed = kek.seal("kid-1", b"private").unwrap();
        assert!(!sealed.contains("private"));
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"private");
        assert!(kek.open("kid-2", &sealed).is_err(), "bound to its kid");
        let other = Kek::from_bytes(&[8; 32]).unwrap();
        let err = other.open("kid-1", &sealed).unwrap_err().to_string();
        assert!(err.contains("another key-encryption key"), "{err}");
        assert_ne!(
            kek.seal("kid-1", b"private").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        assert!(Kek::from_bytes(&[0; 16]).is_err());
    }

    #[test]
    fn the_kek_file_is_generated_once_owner_only_and_refused_when_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let settings = KeySettings::default();
        let first = Kek::resolve(&settings, dir.path()).unwrap();
        let sealed = first.seal("k", b"x").unwrap();
        let path = dir.path().join("encryption.key");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = Kek::resolve(&settings, dir.path()).unwrap();
        assert_eq!(again.open("k", &sealed).unwrap(), b"x", "the same key the second time");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", Kek::resolve(&settings, dir.path()).err().unwrap());
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn an_explicit_key_wins_and_must_be_32_bytes_of_base64() {
        let dir = tempfile::tempdir().unwrap();
        let settings = KeySettings {
            encryption_key: Some(STANDARD.encode([1u8; 32]).into()),
            ..KeySettings::default()
        };
        assert!(Kek::resolve(&settings, dir.path()).is_ok());
        assert!(!dir.path().join("encryption.key").exists(), "nothing generated");
        let short = KeySettings {
            encryption_key: Some(STANDARD.encode([1u8; 16]).into()),
            ..KeySettings::default()
        };
        let err = format!("{:#}", Kek::resolve(&short, dir.path()).err().unwrap());
        assert!(err.contains("keys.encryption_key"), "{err}");
    }
}
