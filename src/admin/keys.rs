//! Signing-key administration shared by `gatehouse keys …` and the admin API: list with
//! each key's state, rotate (publish now, sign after the configured delay), retire.

use crate::config::Config;
use crate::keys::{self, KeyMeta, Keys};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum KeyError {
    NotFound(String),
    /// Retiring now could break tokens still in use; `force` overrides.
    Refused(String),
    Internal(anyhow::Error),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::NotFound(kid) => write!(f, "no key with kid {kid:?}"),
            KeyError::Refused(message) => f.write_str(message),
            KeyError::Internal(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for KeyError {
    fn from(e: anyhow::Error) -> Self {
        KeyError::Internal(e)
    }
}

/// A stored key and its state: `published` (in the JWKS, not signing yet), `active`, or
/// `retired`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub kid: String,
    pub state: &'static str,
    pub created_at: i64,
    pub signing_from: i64,
    pub retired_at: Option<i64>,
}

impl KeyView {
    fn of(meta: KeyMeta, now: i64) -> KeyView {
        let state = match meta.retired_at {
            Some(_) => "retired",
            None if meta.signing_from > now => "published",
            None => "active",
        };
        KeyView {
            kid: meta.kid,
            state,
            created_at: meta.created_at,
            signing_from: meta.signing_from,
            retired_at: meta.retired_at,
        }
    }
}

pub async fn list(keys: &Keys, now: i64) -> Result<Vec<KeyView>, KeyError> {
    Ok(keys.stored().await?.into_iter().map(|m| KeyView::of(m, now)).collect())
}

/// Adds a key: published at once, signing from `now + keys.rotation_delay_secs`.
pub async fn rotate(keys: &Keys, config: &Config, now: i64) -> Result<KeyView, KeyError> {
    let from = now + config.keys.rotation_delay_secs;
    let meta = keys.rotate(config.keys.rsa_bits, now, from).await?;
    Ok(KeyView::of(meta, now))
}

/// Retires `kid`. Refused while tokens it signed may still be valid, unless `force`;
/// then the reason comes back as a warning.
pub async fn retire(
    keys: &Keys,
    config: &Config,
    kid: &str,
    force: bool,
    now: i64,
) -> Result<Option<String>, KeyError> {
    let stored = keys.stored().await?;
    if !stored.iter().any(|m| m.kid == kid) {
        return Err(KeyError::NotFound(kid.to_string()));
    }
    let longest = config.tokens.id_token_ttl_secs.max(config.tokens.access_token_ttl_secs);
    let warning = match keys::retire_check(&stored, kid, now, longest) {
        Ok(()) => None,
        Err(why) if force => Some(why),
        Err(why) => return Err(KeyError::Refused(format!("refusing to retire {kid}: {why}"))),
    };
    keys.retire(kid, now).await?;
    Ok(warning)
}
