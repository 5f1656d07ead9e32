//! The key ring: signing keys in memory (parsed once), the JWKS, rotation, and refresh from the store.
//!
//! A key moves `next → active → retired` (DESIGN.md "Keys"): it is published in the JWKS while `next`,
//! before it ever signs, and stays published after retirement until every token it signed has expired.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::{Clock, UnixTime};
use crate::config::KeyPolicy;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::client::{ClientId, SealedSecret};
use crate::store::{KeyState, SigningKeyRecord, Store, StoreError};
use secrecy::ExposeSecret;

pub mod encryption;
pub mod jws;
pub mod material;

use crate::domain::alg::SigningAlg;
pub use encryption::KeyEncryptionKey;
pub use material::KeyMaterial;

/// Why the key ring could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key would not decrypt.
    #[error(transparent)]
    Decrypt(#[from] encryption::DecryptError),
    /// A new key could not be encrypted for storage (so it was not stored).
    #[error(transparent)]
    Seal(#[from] encryption::SealError),
    /// Key material could not be generated or parsed.
    #[error(transparent)]
    Material(#[from] material::KeyMaterialError),
    /// Key generation was interrupted.
    #[error("key generation did not finish")]
    Interrupted,
}

/// The keys in force at one moment.
#[derive(Debug, Default)]
struct KeySet {
    active: HashMap<SigningAlg, Arc<KeyMaterial>>,
    /// When each algorithm's active key was activated.
    activated_at: HashMap<SigningAlg, UnixTime>,
    /// How long a retired key stayed published, as of this refresh (see [`retention`]).
    retention: i64,
    published: HashMap<String, Arc<KeyMaterial>>,
    jwks: Arc<str>,
}

/// What [`KeyRing::reseal`] sealed again under a new key-encryption key, for
/// [`Store::rewrap_sealed_secrets`].
pub struct Resealed {
    /// `(kid, sealed private key)` for every stored signing key.
    pub signing_keys: Vec<(String, Vec<u8>)>,
    /// `(client_id, sealed as stored, sealed anew)` for every `client_secret_jwt` client.
    pub client_secrets: Vec<(ClientId, SealedSecret, SealedSecret)>,
}

/// Every signing and verification key this instance knows, refreshed from the store.
#[derive(Debug)]
pub struct KeyRing {
    kek: KeyEncryptionKey,
    policy: KeyPolicy,
    current: RwLock<Arc<KeySet>>,
}

/// THE rule for how long a retired key stays published, and stored: until every token it signed has
/// expired — access tokens (the server's lifetime, or an API's own `--token-ttl`, whichever is
/// longest) and ID tokens — plus the refresh interval during which another instance may still sign
/// with it before it sees the rotation.
pub async fn retention(store: &dyn Store, policy: &KeyPolicy) -> Result<i64, StoreError> {
    let longest_api = store
        .list_apis()
        .await?
        .iter()
        .filter_map(|api| api.access_token_ttl)
        .max()
        .unwrap_or(0);
    Ok(policy
        .token_lifetime
        .max(longest_api)
        .saturating_add(policy.refresh_interval))
}

impl KeyRing {
    /// An empty ring; call [`KeyRing::refresh`] to load it.
    pub fn new(kek: KeyEncryptionKey, policy: KeyPolicy) -> Self {
        Self {
            kek,
            policy,
            current: RwLock::new(Arc::new(KeySet::default())),
        }
    }

    /// How long a retired key stays published, as of the last refresh.
    pub fn retention(&self) -> i64 {
        self.snapshot().retention
    }

    fn snapshot(&self) -> Arc<KeySet> {
        // A poisoned lock only means a writer panicked mid-swap of an Arc; the value is still whole.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The active signing key for `alg`.
    pub fn signing_key(&self, alg: SigningAlg) -> Option<Arc<KeyMaterial>> {
        self.snapshot().active.get(&alg).cloned()
    }

    /// For each algorithm, when its active signing key was activated (as of the last refresh).
    pub fn activated_at(&self) -> Vec<(SigningAlg, UnixTime)> {
        let mut all: Vec<_> = self
            .snapshot()
            .activated_at
            .iter()
            .map(|(alg, at)| (*alg, *at))
            .collect();
        all.sort_by_key(|(alg, _)| alg.as_str());
        all
    }

    /// A published key by `kid`: what a token's signature is checked against.
    pub fn verification_key(&self, kid: &str) -> Option<Arc<KeyMaterial>> {
        self.snapshot().published.get(kid).cloned()
    }

    /// The JWK Set document (RFC 7517 §5), serialised once per refresh.
    pub fn jwks(&self) -> Arc<str> {
        self.snapshot().jwks.clone()
    }

    /// Re-read the key set from the store. Keys already in memory are reused, not decrypted again.
    pub async fn refresh(&self, store: &dyn Store, now: UnixTime) -> Result<(), KeyError> {
        let records = store.list_signing_keys().await?;
        let retention = retention(store, &self.policy).await?;
        let previous = self.snapshot();
        let mut next = KeySet {
            retention,
            ..KeySet::default()
        };
        let mut jwks = Vec::new();
        for record in records {
            let published = match record.state {
                KeyState::Next | KeyState::Active => true,
                KeyState::Retired => record
                    .retired_at
                    .is_some_and(|at| at.saturating_add(retention) > now),
            };
            if !published {
                continue;
            }
            let material = match previous.published.get(&record.kid) {
                Some(known) => known.clone(),
                None => Arc::new(self.open(&record)?),
            };
            if record.state == KeyState::Active {
                next.active.insert(material.alg, material.clone());
                next.activated_at.insert(
                    material.alg,
                    record.activated_at.unwrap_or(record.created_at),
                );
            }
            jwks.push(material.public_jwk.clone());
            next.published.insert(record.kid, material);
        }
        next.jwks = serde_json::json!({ "keys": jwks }).to_string().into();
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
        Ok(())
    }

    fn open(&self, record: &SigningKeyRecord) -> Result<KeyMaterial, KeyError> {
        let alg: SigningAlg = record
            .alg
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("key {}: {e}", record.kid)))?;
        let pkcs8 = self.kek.decrypt(&record.kid, &record.private_key)?;
        Ok(KeyMaterial::from_pkcs8(alg, &pkcs8)?)
    }

    /// Generate a key off the async runtime and seal it for storage.
    async fn generate(
        &self,
        alg: SigningAlg,
        state: KeyState,
        now: UnixTime,
    ) -> Result<SigningKeyRecord, KeyError> {
        let (material, pkcs8) = tokio::task::spawn_blocking(move || KeyMaterial::generate(alg))
            .await
            .map_err(|_| KeyError::Interrupted)??;
        let private_key = self.kek.encrypt(&material.kid, &pkcs8)?;
        Ok(SigningKeyRecord {
            private_key,
            kid: material.kid,
            alg: alg.as_str().to_owned(),
            state,
            public_jwk: material.public_jwk.to_string(),
            created_at: now,
            activated_at: (state == KeyState::Active).then_some(now),
            retired_at: None,
        })
    }

    /// Make sure `alg` has an active key and a published next key; create what is missing.
    /// Returns the kids created. Safe when several instances start at once: the store refuses a
    /// second active (or next) key per algorithm, and the loser simply uses the winner's.
    pub async fn ensure(
        &self,
        store: &dyn Store,
        alg: SigningAlg,
        now: UnixTime,
    ) -> Result<Vec<String>, KeyError> {
        let records = store.list_signing_keys().await?;
        let has = |state: KeyState| {
            records
                .iter()
                .any(|r| r.alg == alg.as_str() && r.state == state)
        };
        let mut created = Vec::new();
        for state in [KeyState::Active, KeyState::Next] {
            if has(state) {
                continue;
            }
            let record = self.generate(alg, state, now).await?;
            match store.insert_signing_key(&record).await {
                Ok(()) => created.push(record.kid),
                Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(created)
    }

    /// Rotate `alg`: the next key (published since the last rotation) starts signing, the active key
    /// retires (still published until its tokens expire), and a new next key is published.
    /// Returns the kid that became active.
    pub async fn rotate(
        &self,
        store: &dyn Store,
        alg: SigningAlg,
        now: UnixTime,
    ) -> Result<String, KeyError> {
        self.ensure(store, alg, now).await?;
        let new_next = self.generate(alg, KeyState::Next, now).await?;
        store
            .rotate_signing_keys(&new_next, now, None)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict("another rotation ran at the same time; try again".into())
                    .into()
            })
    }

    /// Rotate each algorithm whose active key has signed for `--key-rotation-interval`, once its next
    /// key has been published for `--key-publish-ahead` (so verifiers that cache the JWKS for its
    /// max-age already hold it). Several instances may call this at once: the store lets exactly one
    /// retire a given active key. Returns the kids that became active here; the ring is refreshed
    /// when there are any.
    pub async fn rotate_due(
        &self,
        store: &dyn Store,
        now: UnixTime,
    ) -> Result<Vec<String>, KeyError> {
        let policy = self.policy;
        // Read the store only when a key this instance holds is due: most ticks cost nothing.
        let due = |at: &UnixTime| at.saturating_add(policy.rotation_interval) <= now;
        if policy.rotation_interval == 0 || !self.snapshot().activated_at.values().any(due) {
            return Ok(Vec::new());
        }
        let records = store.list_signing_keys().await?;
        let mut rotated = Vec::new();
        for alg in SigningAlg::ALL {
            let of = |state: KeyState| {
                records
                    .iter()
                    .find(|r| r.alg == alg.as_str() && r.state == state)
            };
            let (Some(active), Some(next)) = (of(KeyState::Active), of(KeyState::Next)) else {
                continue;
            };
            let signing_since = active.activated_at.unwrap_or(active.created_at);
            let due = signing_since.saturating_add(policy.rotation_interval) <= now;
            let published_long_enough = next.created_at.saturating_add(policy.publish_ahead) <= now;
            if !(due && published_long_enough) {
                continue;
            }
            let new_next = self.generate(alg, KeyState::Next, now).await?;
            match store
                .rotate_signing_keys(&new_next, now, Some(&active.kid))
                .await
            {
                Ok(Some(kid)) => {
                    tracing::info!(%alg, %kid, retired = %active.kid, "rotated the signing key (--key-rotation-interval)");
                    let event = AuditEvent::new(EventType::KeyChange, now, "server").detail(
                        serde_json::json!({
                            "action": "rotated", "alg": alg.as_str(), "kid": kid,
                            "retired": active.kid, "reason": "--key-rotation-interval",
                        }),
                    );
                    crate::audit::record_or_log(store, event).await;
                    rotated.push(kid);
                }
                // Another instance rotated first: nothing to do.
                Ok(None) | Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        if !rotated.is_empty() {
            self.refresh(store, now).await?;
        }
        Ok(rotated)
    }

    /// The key-encryption key: what seals a `client_secret_jwt` client's secret for storage, and
    /// opens it to check the client's assertions (OIDC Core §9).
    pub fn kek(&self) -> &KeyEncryptionKey {
        &self.kek
    }

    /// Everything sealed under this ring's secret — every stored signing key's private key, and
    /// every `client_secret_jwt` client's secret — opened and sealed again under `new_kek`: what
    /// `keys rewrap` stores in one transaction. Fails if anything does not open.
    pub async fn reseal(
        &self,
        store: &dyn Store,
        new_kek: &KeyEncryptionKey,
    ) -> Result<Resealed, KeyError> {
        let mut signing_keys = Vec::new();
        for record in store.list_signing_keys().await? {
            let pkcs8 = self.kek.decrypt(&record.kid, &record.private_key)?;
            signing_keys.push((record.kid.clone(), new_kek.encrypt(&record.kid, &pkcs8)?));
        }
        let mut client_secrets = Vec::new();
        for client in store.list_clients().await? {
            let Some(was) = client.sealed_secret else {
                continue;
            };
            let secret = self.kek.open_client_secret(&client.client_id, &was)?;
            let secret = std::str::from_utf8(secret.expose_secret()).map_err(|_| {
                StoreError::Corrupt(format!("sealed secret of {}", client.client_id))
            })?;
            let now = new_kek.seal_client_secret(&client.client_id, secret)?;
            client_secrets.push((client.client_id, was, now));
        }
        Ok(Resealed {
            signing_keys,
            client_secrets,
        })
    }

    /// Every `interval`: rotate what is due (`--key-rotation-interval`), and re-read the keys, so
    /// rotations made by another process take effect here.
    pub fn spawn_refresh(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        crate::periodic::spawn_every(interval, move || {
            let (ring, store, clock) = (Arc::clone(&self), Arc::clone(&store), Arc::clone(&clock));
            async move {
                if let Err(err) = ring.rotate_due(store.as_ref(), clock.now()).await {
                    tracing::warn!(error = %err, "could not rotate a due signing key; will retry");
                }
                if let Err(err) = ring.refresh(store.as_ref(), clock.now()).await {
                    tracing::warn!(error = %err, "could not refresh signing keys; keeping the current set");
                }
            }
        })
    }
}
