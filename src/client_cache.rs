//! Registered clients, kept in memory. Every token, introspection and authorization
//! request authenticates or looks up a client; reading it from the database each time was
//! a round trip through the SQLite worker thread per request (about a tenth of the
//! server's CPU under client_credentials load). Every change to a client moves a counter
//! in the same transaction (`client_generation`); each instance reads that counter once a
//! second and forgets every cached client when it moved. So a client deleted, updated or
//! given a new secret, through the CLI or on another instance, is refused or seen changed
//! everywhere within about a second.

use crate::clients::Client;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::RwLock;

/// How often instances read the counter, in seconds.
pub const POLL_SECS: u64 = 1;

/// At most this many clients are kept; beyond it lookups go to the database.
const MAX_CACHED: usize = 10_000;

#[derive(Default)]
pub struct ClientCache {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The counter this content belongs to; None until first read.
    generation: Option<i64>,
    clients: HashMap<String, Client>,
}

impl ClientCache {
    /// The client `id`, from memory or from the database. Unknown ids are not remembered,
    /// so made-up ids cannot fill the cache.
    pub async fn get(&self, store: &Store, id: &str) -> Result<Option<Client>, sqlx::Error> {
        let seen = match self.inner.read() {
            Ok(inner) => {
                if let Some(client) = inner.clients.get(id) {
                    return Ok(Some(client.clone()));
                }
                inner.generation
            }
            Err(_) => None,
        };
        let client = store.client(id).await?;
        if let (Some(found), Ok(mut inner)) = (&client, self.inner.write()) {
            // A change noticed while we read would make this row stale: keep it only if
            // the counter we started under is still the current one.
            if seen.is_some() && inner.generation == seen && inner.clients.len() < MAX_CACHED {
                inner.clients.insert(id.to_string(), found.clone());
            }
        }
        Ok(client)
    }

    /// Reads the counter; forgets every client if it moved. Returns whether it did.
    pub async fn refresh(&self, store: &Store) -> Result<bool, sqlx::Error> {
        let current = store.client_generation().await?;
        let Ok(mut inner) = self.inner.write() else {
            return Ok(false);
        };
        if inner.generation == Some(current) {
            return Ok(false);
        }
        inner.generation = Some(current);
        inner.clients.clear();
        Ok(true)
    }
}
