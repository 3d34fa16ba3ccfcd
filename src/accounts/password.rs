//! argon2id hashing and verification. argon2 is slow on purpose, so it runs on the
//! blocking pool behind a semaphore sized to the CPU count: a burst of logins queues
//! instead of starving the async executor that serves discovery, JWKS and tokens.

use crate::config::HashingSettings;
use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Longest password we hash, in bytes: long enough for any passphrase, short enough that
/// hashing cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so an unknown user costs the same
    /// time as a wrong password.
    dummy_hash: Arc<String>,
}

impl PasswordHasherPool {
    pub fn new(settings: &HashingSettings) -> anyhow::Result<Self> {
        let params = Params::new(settings.memory_kib, settings.iterations, 1, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let workers = if settings.max_concurrent == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            settings.max_concurrent
        };
        let dummy_hash = hash_blocking(&params, "gatehouse-dummy-password")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(workers)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await.context("hasher closed")?;
        let params = self.params.clone();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password))
            .await
            .context("hashing task failed")?
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is no account,
    /// so both cases take the same time. Returns false for the dummy.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let is_real = hash.is_some();
        let hash = hash.unwrap_or(self.dummy_hash.as_str()).to_string();
        let password = password.to_string();
        let _permit = self.permits.acquire().await.context("hasher closed")?;
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .context("verification task failed")?;
        Ok(ok && is_real)
    }
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let pool = PasswordHasherPool::new(&HashingSettings {
            memory_kib: 8192,
            iterations: 1,
            max_concurrent: 1,
        })
        .unwrap();
        let hash = pool.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(pool.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!pool.verify("wrong", Some(&hash)).await.unwrap());
        assert!(!pool.verify("gatehouse-dummy-password", None).await.unwrap());
    }
}
