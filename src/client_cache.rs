//! A short-lived in-memory cache of client registrations, and of service clients' roles, for the hot
//! endpoints (token, introspection, revocation), so authenticating a client and issuing it a
//! client-credentials token cost a hash lookup and a SHA-256, not a database round trip.
//!
//! The trade-off: a change made with the admin CLI (secret rotation, deletion, new scopes, a role
//! given or taken) reaches a running instance within `--client-cache-ttl` (5 s by default; 0 turns
//! the cache off).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::clock::UnixTime;
use crate::domain::client::{Client, ClientId};
use crate::domain::role::RoleName;
use crate::store::{Store, StoreError};

/// The most clients kept; past it the cache starts over (registrations are few; this bounds abuse).
const MAX_ENTRIES: usize = 10_000;

/// Values read from the store for a client, each with when it was read.
type Entries<T> = RwLock<HashMap<ClientId, (Arc<T>, UnixTime)>>;

/// Client registrations and service clients' roles, each kept for `ttl` seconds after it was read.
#[derive(Debug)]
pub struct ClientCache {
    ttl: i64,
    entries: Entries<Client>,
    roles: Entries<Vec<RoleName>>,
}

impl ClientCache {
    /// A cache keeping entries `ttl` seconds (0: no caching).
    pub fn new(ttl: i64) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            roles: RwLock::new(HashMap::new()),
        }
    }

    /// The value kept for `client_id` if read less than `ttl` ago.
    fn fresh<T>(
        &self,
        entries: &Entries<T>,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Option<Arc<T>> {
        if self.ttl <= 0 {
            return None;
        }
        let entries = entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(client_id)
            .filter(|(_, read_at)| now - read_at < self.ttl)
            .map(|(value, _)| Arc::clone(value))
    }

    /// Keep `value`, read from the store at `now`.
    fn keep<T>(&self, entries: &Entries<T>, client_id: &ClientId, value: &Arc<T>, now: UnixTime) {
        if self.ttl <= 0 {
            return;
        }
        let mut entries = entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(client_id.clone(), (Arc::clone(value), now));
    }

    /// The client `client_id`, from memory if read less than `ttl` ago, else from the store.
    /// Unknown clients are never cached.
    pub async fn find(
        &self,
        store: &dyn Store,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(client) = self.fresh(&self.entries, client_id, now) {
            return Ok(Some(client));
        }
        let Some(client) = store.find_client(client_id).await?.map(Arc::new) else {
            return Ok(None);
        };
        self.keep(&self.entries, client_id, &client, now);
        Ok(Some(client))
    }

    /// The roles the client `client_id` holds itself (`client add-role`), from memory if read less
    /// than `ttl` ago, else from the store: a client-credentials token needs no database read.
    pub async fn roles(
        &self,
        store: &dyn Store,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Arc<Vec<RoleName>>, StoreError> {
        if let Some(held) = self.fresh(&self.roles, client_id, now) {
            return Ok(held);
        }
        let held = Arc::new(store.find_client_roles(client_id).await?);
        self.keep(&self.roles, client_id, &held, now);
        Ok(held)
    }
}
