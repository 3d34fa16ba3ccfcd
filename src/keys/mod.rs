//! Signing keys. They live in the database, sealed under the key-encryption key (`kek`),
//! so every instance sharing it signs with and publishes the same set; `set` is a parsed
//! set that signs and verifies, `policy` the retirement rule, `disk` the KEK file and the
//! import of an older install's `keys/*.pem`. [`Keys`] is the live set a server uses,
//! reloaded within seconds of a rotation or retirement made anywhere. Only this module
//! and client-assertion verification (`oauth::client_assertion`) touch josekit.

mod disk;
mod kek;
mod policy;
mod set;

pub use kek::Kek;
pub use policy::retire_check;
pub use set::{thumbprint, KeyMeta, KeySet, VerifyError};

use crate::config::Config;
use crate::store::signing_keys::StoredKey;
use crate::store::Store;
use anyhow::{bail, Context};
use serde_json::{Map, Value};
use set::LoadedKey;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

pub struct Keys {
    store: Store,
    kek: Kek,
    current: RwLock<Arc<KeySet>>,
    /// (kid, signing_from, retired_at) of the set loaded, to notice changes.
    states: Mutex<Vec<KeyState>>,
}

type KeyState = (String, i64, Option<i64>);

impl Keys {
    /// Opens the deployment's keys: the first instance to start on an empty database
    /// imports an older install's `keys/*.pem`, or makes a first key; instances starting
    /// at the same moment agree on one.
    pub async fn open(store: &Store, config: &Config, now: i64) -> anyhow::Result<Keys> {
        let kek = Kek::resolve(&config.keys, &config.keys_dir)?;
        if store.signing_key_states().await?.is_empty() {
            first_keys(store, &kek, &config.keys_dir, config.keys.rsa_bits, now).await?;
        }
        let (states, set) = load(store, &kek, now).await?;
        Ok(Keys {
            store: store.clone(),
            kek,
            current: RwLock::new(Arc::new(set)),
            states: Mutex::new(states),
        })
    }

    /// The key-encryption key, which also seals other secrets at rest (authenticator-app
    /// seeds), each bound to its own label.
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads when a key was added or retired (by any instance, or the CLI). A set that
    /// no longer loads (no key may sign, one cannot be opened) keeps the last good set and
    /// reports why.
    pub async fn reload_if_changed(&self, now: i64) -> anyhow::Result<bool> {
        let seen = self.store.signing_key_states().await?;
        if self.states.lock().map(|s| *s == seen).unwrap_or(false) {
            return Ok(false);
        }
        let (states, set) = load(&self.store, &self.kek, now).await?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(set);
        }
        if let Ok(mut last) = self.states.lock() {
            *last = states;
        }
        Ok(true)
    }

    /// Adds a key: published at once, signing from `signing_from`.
    pub async fn rotate(&self, rsa_bits: u32, now: i64, signing_from: i64) -> anyhow::Result<KeyMeta> {
        let row = new_row(&self.kek, rsa_bits, now, signing_from)?;
        self.store.add_signing_key(&row).await?;
        Ok(meta_of(&row))
    }

    /// Retires a key: it stops signing and leaves the JWKS at the next reload.
    pub async fn retire(&self, kid: &str, now: i64) -> anyhow::Result<()> {
        if !self.store.retire_signing_key(kid, now).await? {
            bail!("no key with kid {kid:?} in the database (or it is retired already)");
        }
        Ok(())
    }

    /// Every stored key, as it is in the database now.
    pub async fn stored(&self) -> anyhow::Result<Vec<KeyMeta>> {
        Ok(self.store.signing_keys().await?.iter().map(meta_of).collect())
    }

    /// The PEM of a stored private key, opened (for tests that sign as the deployment).
    pub async fn private_pem(&self, kid: &str) -> anyhow::Result<Vec<u8>> {
        let rows = self.store.signing_keys().await?;
        let row = rows.iter().find(|r| r.kid == kid).context("no such key")?;
        self.kek.open(&row.kid, &row.sealed)
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

/// Every stored key, opened and parsed, with the states it was loaded at.
async fn load(store: &Store, kek: &Kek, now: i64) -> anyhow::Result<(Vec<KeyState>, KeySet)> {
    let rows = store.signing_keys().await?;
    let states = rows
        .iter()
        .map(|r| (r.kid.clone(), r.signing_from, r.retired_at))
        .collect();
    let keys = rows
        .iter()
        .map(|row| unseal(kek, row))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((states, KeySet::from_keys(keys, now, "the database")?))
}

fn unseal(kek: &Kek, row: &StoredKey) -> anyhow::Result<LoadedKey> {
    let pem = kek.open(&row.kid, &row.sealed)?;
    let key = LoadedKey::from_pem(&pem, meta_of(row)).with_context(|| format!("signing key {}", row.kid))?;
    if key.meta.kid != row.kid {
        bail!("signing key {}: its kid is not its thumbprint", row.kid);
    }
    Ok(key)
}

fn meta_of(row: &StoredKey) -> KeyMeta {
    KeyMeta {
        kid: row.kid.clone(),
        created_at: row.created_at,
        signing_from: row.signing_from,
        retired_at: row.retired_at,
    }
}

fn new_row(kek: &Kek, rsa_bits: u32, now: i64, signing_from: i64) -> anyhow::Result<StoredKey> {
    let (kid, pem) = set::generate_pem(rsa_bits)?;
    Ok(StoredKey {
        sealed: kek.seal(&kid, &pem)?,
        kid,
        created_at: now,
        signing_from,
        retired_at: None,
    })
}

/// The first keys of an empty database: an older install's `keys/*.pem` (imported once),
/// or a new key. Only one instance's go in.
async fn first_keys(store: &Store, kek: &Kek, keys_dir: &Path, rsa_bits: u32, now: i64) -> anyhow::Result<()> {
    let legacy = disk::legacy_keys(keys_dir)?;
    let rows = if legacy.is_empty() {
        // Signing from the epoch, not from `now`: an instance that lost the race to make
        // the first key, or whose clock runs a little behind, must find it active too.
        vec![new_row(kek, rsa_bits, now, 0)?]
    } else {
        legacy
            .iter()
            .map(|(path, pem, meta)| {
                // A PEM dropped in by hand, without a sidecar, counts as active since ever.
                let meta = meta.clone().unwrap_or(KeyMeta {
                    kid: String::new(),
                    created_at: 0,
                    signing_from: 0,
                    retired_at: None,
                });
                let key = LoadedKey::from_pem(pem, meta).with_context(|| format!("{}", path.display()))?;
                Ok(StoredKey {
                    sealed: kek.seal(&key.meta.kid, pem)?,
                    kid: key.meta.kid.clone(),
                    created_at: key.meta.created_at,
                    signing_from: key.meta.signing_from,
                    retired_at: key.meta.retired_at,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    if store.add_first_signing_keys(&rows, now).await? {
        match legacy.len() {
            0 => tracing::info!(kid = %rows[0].kid, "generated the first signing key"),
            n => tracing::warn!(
                imported = n,
                dir = %keys_dir.display(),
                "imported the signing keys from the keys directory into the database; the .pem files are no longer read and may be deleted"
            ),
        }
    }
    Ok(())
}
