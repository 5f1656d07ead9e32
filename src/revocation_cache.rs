//! The revocations each instance keeps in memory, so that introspection and UserInfo of a JWT
//! access token learn "revoked?" without a store round trip (README "How revocation propagates").
//!
//! It holds exactly what [`Store::is_revoked`] consults: the revocation records, each a revoked
//! access token's `jti` or a revoked grant's id (refresh-token reuse, a replayed code, `/revoke` of
//! a refresh token, a session ended or consent withdrawn on the account page, a password change, a
//! user disabled or signed out everywhere), with the time the last token it covers expires. It is
//! filled from the store by its first catch-up, once the server runs (until then the store
//! answers), and kept current by catch-ups that read only the records written since the last one
//! (every [`CATCH_UP_INTERVAL`], and at once when PostgreSQL announces a revocation); a revocation
//! made on this instance is put in at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify};

use crate::clock::{Clock, UnixTime};
use crate::domain::grant::{GrantId, RevocationCursor};
use crate::store::{Store, StoreError};

/// How often the catch-up runs when nothing wakes it sooner.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_millis(500);

/// How old the cache may be (since the start of its last successful catch-up) and still answer.
/// Past it — the store is unreachable, or the catch-up is slow — every answer comes from the store
/// again, as it did before this cache, so no instance ever takes a revoked token for active
/// because it has stopped hearing about revocations: a revocation is honoured everywhere within
/// this bound of its commit, and with the store down the answer is 503 rather than a guess.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// How often (seconds) entries whose tokens have all expired are dropped.
const PRUNE_EVERY: i64 = 30;

/// How long the listener waits before connecting again after losing its connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// An id as the cache holds it: the first 128 bits of its SHA-256. A million revocations then
/// take about 50 MB with the hash table's room, not 110 MB as strings (the scale benchmark's idle
/// RSS on PostgreSQL, issue 15), and
/// two ids that differ never share a key in practice (a 2^-128 chance per pair; ids are made by
/// this server, not chosen by a caller, and a collision could only make a token read as revoked).
pub type IdKey = [u8; 16];

/// The key of `id`.
pub fn key_of(id: &str) -> IdKey {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&digest.as_ref()[..16]);
    key
}

/// How many parts the ids are kept in, each behind its own lock: pruning a million entries locks
/// one part at a time (a sixteenth of the pause), and concurrent checks rarely meet.
const SHARDS: usize = 16;

/// Revoked `jti`s and grant ids (one part of them), each with when the last token it covers
/// expires.
#[derive(Debug, Default)]
pub struct RevokedIds {
    entries: HashMap<IdKey, UnixTime>,
}

impl RevokedIds {
    /// Record `key` as revoked until `expires_at`; a longer record already held is kept (as the
    /// store keeps the later expiry).
    pub fn insert(&mut self, key: IdKey, expires_at: UnixTime) {
        self.entries
            .entry(key)
            .and_modify(|held| *held = (*held).max(expires_at))
            .or_insert(expires_at);
    }

    /// Whether `key` is revoked. An entry counts until it is pruned, as a record in the store counts
    /// until housekeeping deletes it.
    pub fn contains(&self, key: &IdKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Drop the entries whose tokens have all expired at `now` (the condition housekeeping deletes
    /// the records by); how many went.
    pub fn prune(&mut self, now: UnixTime) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, expires_at| *expires_at > now);
        before - self.entries.len()
    }

    /// How many ids are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The instance's copy of the revocation records, and how current it is.
#[derive(Debug)]
pub struct RevocationCache {
    /// The ids, in [`SHARDS`] parts chosen by the first byte of their key.
    shards: [RwLock<RevokedIds>; SHARDS],
    /// Where the next catch-up reads from. Its lock makes catch-ups run one at a time, and lets
    /// [`Self::caught_up_after_write`] know that no catch-up older than its write is still running.
    cursor: Mutex<RevocationCursor>,
    /// The origin of the instants below (a monotonic clock: these measure staleness, not dates).
    origin: Instant,
    /// When the last successful catch-up started (nanoseconds after `origin`, plus one); 0: never,
    /// or made stale on purpose. Answers come from the cache only while this is recent.
    fresh_since: AtomicU64,
    /// When the last successful catch-up started, for the metrics (not reset when made stale).
    last_success: AtomicU64,
    /// Answers taken from the store because the cache was stale.
    fallbacks: AtomicU64,
    /// When expired entries were last dropped (Unix time).
    last_pruned: AtomicI64,
    /// Wakes the catch-up before its interval (a notice from another instance).
    wake: Notify,
    /// [`STALE_AFTER`] in nanoseconds (longer in unit tests, which must not depend on speed).
    stale_after_nanos: u64,
}

impl Default for RevocationCache {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationCache {
    /// An empty cache that is not current: until its first catch-up, every answer comes from the
    /// store.
    pub fn new() -> Self {
        Self {
            shards: Default::default(),
            cursor: Mutex::new(RevocationCursor::START),
            origin: Instant::now(),
            fresh_since: AtomicU64::new(0),
            last_success: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            last_pruned: AtomicI64::new(0),
            wake: Notify::new(),
            stale_after_nanos: u64::try_from(STALE_AFTER.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// RFC 7662 §2.2, RFC 7009 §2.1: whether the access token `jti` of grant `grant_id` has been
    /// revoked (itself or its grant) — what [`Store::is_revoked`] answers, from memory while the
    /// cache is current (see [`STALE_AFTER`]), else from `store`.
    pub async fn is_revoked(
        &self,
        store: &dyn Store,
        jti: &str,
        grant_id: &GrantId,
    ) -> Result<bool, StoreError> {
        if self.is_current() {
            return Ok(self.contains(jti) || self.contains(grant_id.as_str()));
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        store.is_revoked(jti, grant_id).await
    }

    /// A revocation this instance has just recorded in the store (`jti` or grant id, until
    /// `expires_at`): known here at once, without waiting for the catch-up.
    pub fn record(&self, id: &str, expires_at: UnixTime) {
        let key = key_of(id);
        self.shard(&key)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, expires_at);
    }

    fn contains(&self, id: &str) -> bool {
        let key = key_of(id);
        self.shard(&key)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
    }

    fn shard(&self, key: &IdKey) -> &RwLock<RevokedIds> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// This instance has just committed revocations whose ids it does not hold (a user's or a
    /// session's grants, chosen in the store): catch up now, so its next answer has them. If the
    /// store cannot be read, the cache is made stale, so answers come from the store until a
    /// catch-up succeeds.
    pub async fn caught_up_after_write(&self, store: &dyn Store, now: UnixTime) {
        if let Err(err) = self.catch_up_or_go_stale(store, now).await {
            tracing::warn!(error = %err, "could not read back revocations just made; answering from the store");
        }
    }

    async fn catch_up_or_go_stale(
        &self,
        store: &dyn Store,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        // Taken after the write committed: any catch-up that could have missed it has finished,
        // and the one run here reads it.
        let mut cursor = self.cursor.lock().await;
        let result = self.catch_up_locked(&mut cursor, store, now).await;
        if result.is_err() {
            self.fresh_since.store(0, Ordering::SeqCst);
        }
        result
    }

    /// Read the records written since the last catch-up into the cache; on success, the cache is
    /// current as of this call's start.
    pub async fn catch_up(&self, store: &dyn Store, now: UnixTime) -> Result<(), StoreError> {
        let mut cursor = self.cursor.lock().await;
        self.catch_up_locked(&mut cursor, store, now).await
    }

    async fn catch_up_locked(
        &self,
        cursor: &mut RevocationCursor,
        store: &dyn Store,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let started = self.instant_now();
        // Each record goes in as it is read (the first read may bring a million).
        *cursor = store
            .revocations_since(*cursor, now, &mut |id, expires_at| {
                self.record(id, expires_at)
            })
            .await?;
        self.fresh_since.store(started, Ordering::SeqCst);
        self.last_success.store(started, Ordering::Relaxed);
        Ok(())
    }

    /// Drop expired entries if the last pruning is [`PRUNE_EVERY`] seconds old.
    pub fn prune_if_due(&self, now: UnixTime) {
        let last = self.last_pruned.load(Ordering::Relaxed);
        if now < last.saturating_add(PRUNE_EVERY) {
            return;
        }
        self.last_pruned.store(now, Ordering::Relaxed);
        // One part at a time: a check waits for at most one part's pruning.
        let pruned: usize = self
            .shards
            .iter()
            .map(|shard| {
                shard
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .prune(now)
            })
            .sum();
        if pruned > 0 {
            tracing::debug!(pruned, "dropped revocations whose tokens have all expired");
        }
    }

    /// How many revoked ids are held (`latchkey_revocation_cache_entries`).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long ago the last successful catch-up started, if one ever did
    /// (`latchkey_revocation_cache_age_seconds`).
    pub fn age(&self) -> Option<Duration> {
        match self.last_success.load(Ordering::Relaxed) {
            0 => None,
            at => Some(Duration::from_nanos(self.instant_now().saturating_sub(at))),
        }
    }

    /// Answers taken from the store because the cache was stale
    /// (`latchkey_revocation_cache_fallbacks_total`).
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Whether the last successful catch-up started within [`STALE_AFTER`].
    fn is_current(&self) -> bool {
        match self.fresh_since.load(Ordering::SeqCst) {
            0 => false,
            since => self.instant_now().saturating_sub(since) <= self.stale_after_nanos,
        }
    }

    /// Nanoseconds since `origin`, plus one (so that 0 means "never").
    fn instant_now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// Keep the cache current for the life of the server: a catch-up every [`CATCH_UP_INTERVAL`]
    /// and whenever the store announces a revocation (PostgreSQL `LISTEN`), expired entries
    /// dropped now and then. Failures are logged when they start and when they end; meanwhile
    /// the cache goes stale and answers come from the store (see [`STALE_AFTER`]).
    pub fn spawn(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Ends with this task: dropped when it is aborted.
            let _listener = AbortOnDrop(tokio::spawn(self.clone().listen(store.clone())));
            let mut ticker = tokio::time::interval(CATCH_UP_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = self.wake.notified() => {}
                }
                let now = clock.now();
                match self.catch_up(store.as_ref(), now).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("revocation catch-up works again; answering from memory");
                    }
                    Ok(()) => {}
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(error = %err, "revocation catch-up failed; answering from the store until it works");
                    }
                    Err(_) => {}
                }
                self.prune_if_due(now);
            }
        })
    }

    /// Wake the catch-up whenever the store announces a revocation, reconnecting when the
    /// connection is lost (a catch-up follows each reconnection: notices may have been missed).
    async fn listen(self: Arc<Self>, store: Arc<dyn Store>) {
        loop {
            match store.listen_for_revocations().await {
                Ok(None) => return,
                Ok(Some(mut listener)) => {
                    self.wake.notify_one();
                    loop {
                        match listener.wait().await {
                            Ok(()) => self.wake.notify_one(),
                            Err(err) => {
                                tracing::warn!(error = %err, "lost the revocation notices; the catch-up goes on");
                                break;
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for revocation notices; the catch-up goes on");
                }
            }
            tokio::time::sleep(LISTEN_RETRY).await;
        }
    }
}

/// Aborts its task when dropped: the listener ends with the catch-up task that started it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RevocationCache {
        /// A cache after its first catch-up at `now`.
        async fn filled(store: &dyn Store, now: UnixTime) -> Result<Self, StoreError> {
            let cache = Self::new();
            cache.catch_up(store, now).await?;
            cache.last_pruned.store(now, Ordering::Relaxed);
            Ok(cache)
        }
    }

    #[test]
    fn an_id_is_revoked_once_inserted_and_until_pruned_after_its_expiry() {
        let mut ids = RevokedIds::default();
        assert!(!ids.contains(&key_of("jti-1")));
        ids.insert(key_of("jti-1"), 1_000);
        ids.insert(key_of("grant-1"), 2_000);
        assert!(ids.contains(&key_of("jti-1")) && ids.contains(&key_of("grant-1")));
        assert!(!ids.contains(&key_of("jti-2")));
        // Not yet expired: kept.
        assert_eq!(ids.prune(999), 0);
        assert!(ids.contains(&key_of("jti-1")));
        // Expired at exactly `expires_at`, as housekeeping deletes the record.
        assert_eq!(ids.prune(1_000), 1);
        assert!(!ids.contains(&key_of("jti-1")));
        assert!(ids.contains(&key_of("grant-1")));
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn a_later_expiry_extends_an_entry_and_an_earlier_one_never_shortens_it() {
        let mut ids = RevokedIds::default();
        ids.insert(key_of("grant-1"), 1_000);
        ids.insert(key_of("grant-1"), 5_000);
        ids.insert(key_of("grant-1"), 2_000);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids.prune(4_999), 0);
        assert_eq!(ids.prune(5_000), 1);
        assert!(ids.is_empty());
    }

    #[tokio::test]
    async fn a_cache_never_caught_up_answers_from_the_store() {
        let store = crate::store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let cache = RevocationCache::new();
        let grant = GrantId::from_stored("g".into());
        store.revoke_access_token("jti-1", 2_000).await.unwrap();
        assert!(
            cache
                .is_revoked(store.as_ref(), "jti-1", &grant)
                .await
                .unwrap()
        );
        assert_eq!(cache.fallbacks(), 1);
        assert!(cache.age().is_none());
    }

    #[tokio::test]
    async fn the_fill_and_the_catch_up_read_what_the_store_holds() {
        let store = crate::store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        store.revoke_access_token("jti-old", 2_000).await.unwrap();
        store.revoke_access_token("jti-gone", 900).await.unwrap();
        let mut cache = RevocationCache::filled(store.as_ref(), 1_000)
            .await
            .unwrap();
        // Current for the whole test, however slowly it runs.
        cache.stale_after_nanos = u64::MAX;
        let grant = GrantId::from_stored("g".into());
        // Read at start-up; the expired record is not worth holding.
        assert!(
            cache
                .is_revoked(store.as_ref(), "jti-old", &grant)
                .await
                .unwrap()
        );
        assert_eq!(cache.len(), 1);
        // Written after the fill: unknown to memory until the catch-up (the cache is current, so
        // it does not ask the store).
        store.revoke_access_token("jti-new", 2_000).await.unwrap();
        assert!(
            !cache
                .is_revoked(store.as_ref(), "jti-new", &grant)
                .await
                .unwrap()
        );
        cache.catch_up(store.as_ref(), 1_000).await.unwrap();
        assert!(
            cache
                .is_revoked(store.as_ref(), "jti-new", &grant)
                .await
                .unwrap()
        );
        // A grant's revocation covers its tokens whatever their `jti`.
        cache.record("g", 3_000);
        assert!(
            cache
                .is_revoked(store.as_ref(), "any", &grant)
                .await
                .unwrap()
        );
        assert_eq!(cache.fallbacks(), 0);
        // Pruned when due, after the expiry of what it held.
        cache.prune_if_due(1_010);
        assert_eq!(cache.len(), 3);
        cache.prune_if_due(2_500);
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn a_cache_whose_last_catch_up_is_older_than_the_bound_answers_from_the_store() {
        let store = crate::store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let mut cache = RevocationCache::filled(store.as_ref(), 1_000)
            .await
            .unwrap();
        // Written after the last catch-up (a notice lost, the catch-up failing): memory does not
        // know it, and must not be trusted once its copy is older than the bound.
        store.revoke_access_token("jti-1", 2_000).await.unwrap();
        cache.stale_after_nanos = 0;
        let grant = GrantId::from_stored("g".into());
        assert!(
            cache
                .is_revoked(store.as_ref(), "jti-1", &grant)
                .await
                .unwrap()
        );
        assert_eq!(cache.fallbacks(), 1);
        assert_eq!(cache.len(), 0, "asked, not cached");
        assert!(cache.age().is_some());
    }
}
