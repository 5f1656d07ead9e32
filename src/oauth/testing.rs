//! Test support for the protocol layer: a real in-memory SQLite store, real keys, real settings and
//! a fixed `now`, so a rule is tested without a socket.

use std::sync::Arc;

use clap::Parser;

use super::Context;
use crate::catalog::CatalogCache;
use crate::client_cache::ClientCache;
use crate::config::{Config, SecretSource, Settings};
use crate::domain::alg::SigningAlg;
use crate::domain::client::{Client, ClientId, ClientSecret, ClientSpec};
use crate::domain::user::{User, UserId};
use crate::keys::{KeyEncryptionKey, KeyRing};
use crate::store::{self, Store};

/// The fixed time every harness starts at.
pub const NOW: i64 = 1_700_000_000;

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    config: Config,
}

/// A store, keys and settings, and a clock that moves only when told.
pub struct Harness {
    /// The in-memory store (migrated).
    pub store: Arc<dyn Store>,
    /// Keys of every algorithm.
    pub keys: KeyRing,
    /// Settings as `latchkey` would parse them from `flags`.
    pub settings: Settings,
    /// A client cache that never caches, so store changes show at once.
    pub clients: ClientCache,
    /// A catalog cache that never caches.
    pub catalog: CatalogCache,
    /// Metrics, counted as in the server.
    pub metrics: crate::metrics::Metrics,
    /// `jwks_uri` fetches.
    pub remote_jwks: crate::remote_jwks::RemoteJwks,
    /// Revocations in memory: never caught up here, so every answer comes from the store.
    pub revocations: crate::revocation_cache::RevocationCache,
    /// The time of the next request.
    pub now: i64,
}

impl Harness {
    /// A fresh harness with extra `flags` (e.g. `["--refresh-token-absolute-ttl", "1h"]`).
    pub async fn new(flags: &[&str]) -> Self {
        let mut args = vec![
            "latchkey",
            "--issuer",
            "https://id.example.com",
            "--database-url",
            "sqlite::memory:",
            "--client-cache-ttl",
            "0",
        ];
        args.extend_from_slice(flags);
        let settings = Flags::try_parse_from(args)
            .unwrap()
            .config
            .validate()
            .unwrap();
        let store = store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let keys = KeyRing::new(
            KeyEncryptionKey::load(&SecretSource::Ephemeral).unwrap(),
            settings.key_policy(),
        );
        for alg in SigningAlg::ALL {
            keys.ensure(store.as_ref(), alg, NOW).await.unwrap();
        }
        keys.refresh(store.as_ref(), NOW).await.unwrap();
        Self {
            store,
            keys,
            settings,
            clients: ClientCache::new(0),
            catalog: CatalogCache::new(0),
            metrics: crate::metrics::Metrics::new(),
            remote_jwks: crate::remote_jwks::RemoteJwks::new(false).unwrap(),
            revocations: crate::revocation_cache::RevocationCache::new(),
            now: NOW,
        }
    }

    /// The protocol context at the harness's `now`.
    pub fn ctx(&self) -> Context<'_> {
        Context {
            store: self.store.as_ref(),
            keys: &self.keys,
            settings: &self.settings,
            clients: &self.clients,
            catalog: &self.catalog,
            metrics: &self.metrics,
            issuance_log: None,
            remote_jwks: &self.remote_jwks,
            client_ca: None,
            revocations: &self.revocations,
            now: self.now,
        }
    }

    /// Register a client `id` from `spec` (with a secret when confidential).
    pub async fn client(&self, id: &str, spec: ClientSpec) -> Client {
        let mut client = Client::from_spec(ClientId::parse(id).unwrap(), &spec, 0).unwrap();
        if client.auth_method.has_secret() {
            let secret = ClientSecret::generate();
            client.secret_hash = Some(secret.hash());
            if client.auth_method.needs_sealed_secret() {
                client.sealed_secret = Some(
                    self.keys
                        .kek()
                        .seal_client_secret(&client.client_id, secret.expose())
                        .unwrap(),
                );
            }
        }
        self.store.create_client(&client).await.unwrap();
        client
    }

    /// Create an enabled user.
    pub async fn user(&self, username: &str) -> User {
        let user = User {
            user_id: UserId::generate(),
            username: username.into(),
            email: None,
            email_verified: false,
            name: None,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            disabled: false,
            created_at: 0,
            updated_at: 0,
        };
        self.store.create_user(&user).await.unwrap();
        user
    }
}
