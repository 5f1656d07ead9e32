//! A short-lived in-memory cache of client registrations for the hot endpoints (token, introspection,
//! revocation), so authenticating a client costs a hash lookup and a SHA-256, not a database round trip.
//!
//! The trade-off: a change made with the admin CLI (secret rotation, deletion, new scopes) reaches a
//! running instance within `--client-cache-ttl` (5 s by default; 0 turns the cache off).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::clock::UnixTime;
use crate::domain::client::{Client, ClientId};
use crate::store::{Store, StoreError};

/// The most clients kept; past it the cache starts over (registrations are few; this bounds abuse).
const MAX_ENTRIES: usize = 10_000;

/// Client registrations, each kept for `ttl` seconds after it was read.
#[derive(Debug)]
pub struct ClientCache {
    ttl: i64,
    entries: RwLock<HashMap<ClientId, (Arc<Client>, UnixTime)>>,
}

impl ClientCache {
    /// A cache keeping entries `ttl` seconds (0: no caching).
    pub fn new(ttl: i64) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The client `client_id`, from memory if read less than `ttl` ago, else from the store.
    /// Unknown clients are never cached.
    pub async fn find(
        &self,
        store: &dyn Store,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        if self.ttl > 0 {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some((client, read_at)) = entries.get(client_id)
                && now - read_at < self.ttl
            {
                return Ok(Some(Arc::clone(client)));
            }
        }
        let Some(client) = store.find_client(client_id).await?.map(Arc::new) else {
            return Ok(None);
        };
        if self.ttl > 0 {
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(client_id.clone(), (Arc::clone(&client), now));
        }
        Ok(Some(client))
    }
}
