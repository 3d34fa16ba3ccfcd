//! Signing keys. `disk` is the key store in `keys/`, `set` a parsed set that signs and
//! verifies, `policy` the retirement rule; [`Keys`] is the live set a server uses,
//! reloaded when the directory changes. Only this module and client-assertion
//! verification (`oauth::client_assertion`) touch josekit.

mod disk;
mod policy;
mod set;

pub use disk::{generate, retire, thumbprint};
pub use policy::retire_check;
pub use set::{KeyMeta, KeySet, VerifyError};

use disk::fingerprint;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

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
