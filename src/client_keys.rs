//! The JWK Sets clients publish at their `jwks_uri`, fetched through the guarded
//! outbound client and kept in memory. A set is reused for a few minutes; a signature
//! that none of its keys verifies makes the caller ask again with `refresh`. The first
//! such refetch happens at once, so a client that rotated its keys is followed at once
//! (OIDC Core §10.1.1); later ones at most once per `MIN_REFETCH_SECS`, so forged tokens
//! cannot make Gatehouse hammer the client's server. Each instance keeps its own copy: the document, not the
//! database, is the source of truth.

use crate::clients::Client;
use crate::outbound::{FetchError, Outbound};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a fetched set is used without asking again.
const FRESH_SECS: i64 = 300;
/// Shortest time between two fetches of one client's set asked for by a failed signature.
const MIN_REFETCH_SECS: i64 = 10;
/// At most this many sets are kept; beyond it the oldest is forgotten.
const MAX_SETS: usize = 10_000;

#[derive(Clone)]
struct Entry {
    uri: String,
    fetched_at: i64,
    /// When a failed signature last caused a fetch.
    refreshed_at: Option<i64>,
    jwks: Arc<str>,
}

#[derive(Default)]
pub struct ClientKeySets {
    sets: Mutex<HashMap<String, Entry>>,
}

/// Where a client's keys come from, for the caller's error message.
#[derive(Debug)]
pub enum KeysError {
    /// The client registered no keys at all.
    None,
    /// Its `jwks_uri` could not be fetched.
    Fetch(FetchError),
}

impl std::fmt::Display for KeysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeysError::None => f.write_str("this client has no registered keys"),
            KeysError::Fetch(e) => write!(f, "the client's jwks_uri could not be fetched: {e}"),
        }
    }
}

impl ClientKeySets {
    /// The client's JWK Set as JSON text: the registered one, or the one at its
    /// `jwks_uri`. `refresh` asks for a new copy (a signature did not verify with the
    /// cached one); whether it is refetched depends on how recent the copy is. Returns
    /// the set and whether it is newer than any the caller could have seen.
    pub async fn get(
        &self,
        outbound: &Outbound,
        client: &Client,
        now: i64,
        refresh: bool,
    ) -> Result<(Arc<str>, bool), KeysError> {
        if let Some(jwks) = &client.jwks {
            return Ok((Arc::from(jwks.as_str()), false));
        }
        let Some(uri) = &client.jwks_uri else {
            return Err(KeysError::None);
        };
        let cached = self.cached(&client.id, uri);
        let mut refreshed_at = None;
        if let Some(entry) = &cached {
            let may_refresh = entry.refreshed_at.is_none_or(|at| now - at >= MIN_REFETCH_SECS);
            let stale = now - entry.fetched_at >= FRESH_SECS || (refresh && may_refresh);
            if !stale {
                return Ok((entry.jwks.clone(), false));
            }
            refreshed_at = if refresh { Some(now) } else { entry.refreshed_at };
        }
        match outbound.get(uri, "application/jwk-set+json, application/json").await {
            Ok(fetched) => {
                let jwks: Arc<str> = Arc::from(fetched.body.as_str());
                self.put(
                    &client.id,
                    Entry {
                        uri: uri.clone(),
                        fetched_at: now,
                        refreshed_at,
                        jwks: jwks.clone(),
                    },
                );
                Ok((jwks, true))
            }
            Err(e) => match cached {
                // A client whose server is briefly down keeps signing in with the keys it had.
                // Asked again in MIN_REFETCH_SECS, not on every request meanwhile.
                Some(entry) if !refresh => {
                    let retry = Entry {
                        fetched_at: now - FRESH_SECS + MIN_REFETCH_SECS,
                        ..entry
                    };
                    self.put(&client.id, retry.clone());
                    Ok((retry.jwks, false))
                }
                Some(entry) => {
                    // A failed refetch counts too: a down server is not asked again at once.
                    self.put(&client.id, Entry { refreshed_at, ..entry });
                    Err(KeysError::Fetch(e))
                }
                None => Err(KeysError::Fetch(e)),
            },
        }
    }

    fn cached(&self, client_id: &str, uri: &str) -> Option<Entry> {
        let sets = self.sets.lock().ok()?;
        sets.get(client_id).filter(|e| e.uri == uri).cloned()
    }

    fn put(&self, client_id: &str, entry: Entry) {
        let Ok(mut sets) = self.sets.lock() else {
            return;
        };
        if sets.len() >= MAX_SETS && !sets.contains_key(client_id) {
            if let Some(oldest) = sets.iter().min_by_key(|(_, e)| e.fetched_at).map(|(k, _)| k.clone()) {
                sets.remove(&oldest);
            }
        }
        sets.insert(client_id.to_string(), entry);
    }
}
