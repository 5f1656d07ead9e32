//! The application state every handler shares, and how it is built at start-up.

use std::sync::Arc;

use crate::audit::BatchedLog;
use crate::catalog::CatalogCache;
use crate::client_cache::ClientCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::alg::SigningAlg;
use crate::keys::{KeyEncryptionKey, KeyError, KeyRing};
use crate::metrics::Metrics;
use crate::password_pool::PasswordSlots;
use crate::revocation_cache::RevocationCache;
use crate::store::{self, Store, StoreError};

/// Everything a handler may need: one reference-counted [`Shared`], so a clone (axum makes several
/// per request) touches one counter, not one per part that every core would contend for.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The signing and verification keys.
    pub keys: Arc<KeyRing>,
    /// Validated configuration.
    pub settings: Arc<Settings>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Bounded argon2 work.
    pub passwords: Arc<PasswordSlots>,
    /// Client registrations for the hot endpoints.
    pub clients: Arc<ClientCache>,
    /// APIs and scopes.
    pub catalog: Arc<CatalogCache>,
    /// The Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Token issuance in the audit trail, written in batches (`--audit-token-issuance`).
    pub issuance_log: Option<BatchedLog>,
    /// `private_key_jwt` clients' keys fetched from their `jwks_uri`.
    pub remote_jwks: Arc<crate::remote_jwks::RemoteJwks>,
    /// Wakes the back-channel logout deliverer after a session ended here.
    pub logouts: Arc<crate::logout_delivery::Outbox>,
    /// The CA certificates of `--mtls-ca`, which client certificates may chain to (RFC 8705 §2.1).
    pub client_ca: Option<Arc<crate::tls::TrustRoots>>,
    /// Revoked access tokens and grants, kept current from the store (README "How revocation
    /// propagates").
    pub revocations: Arc<RevocationCache>,
    /// The discovery document, serialised once per catalog.
    pub metadata: crate::oauth::metadata::MetadataCache,
}

impl Shared {
    /// The protocol layer's view of this request: `now` is the request's one reading of the clock.
    pub fn context(&self, now: crate::clock::UnixTime) -> crate::oauth::Context<'_> {
        crate::oauth::Context {
            store: self.store.as_ref(),
            keys: &self.keys,
            settings: &self.settings,
            clients: &self.clients,
            catalog: &self.catalog,
            metrics: &self.metrics,
            issuance_log: self.issuance_log.as_ref(),
            remote_jwks: &self.remote_jwks,
            client_ca: self.client_ca.as_deref(),
            revocations: &self.revocations,
            now,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Signing keys could not be loaded or created.
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS certificate, its key, or the client-certificate CA bundle could not be used.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The outgoing HTTP client could not be set up.
    #[error("{0}")]
    Http(String),
}

impl AppState {
    /// Connect the store, apply migrations, load (creating on first start) the signing keys.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        // Read first: a bad bundle stops start-up before anything is created.
        let client_ca = match &settings.transport.mtls_ca {
            Some(path) => Some(Arc::new(crate::tls::TrustRoots::load(path)?)),
            None => None,
        };
        let kek = KeyEncryptionKey::load(&settings.key_secret)?;
        let store = connect_store(&settings).await?;
        store.migrate().await?;
        let keys = Arc::new(KeyRing::new(kek, settings.key_policy()));
        // Every algorithm has keys, published in the JWKS, so a client's ID-token override or a
        // change of the server setting never meets an unknown key.
        for alg in SigningAlg::ALL {
            for kid in keys.ensure(store.as_ref(), alg, clock.now()).await? {
                tracing::info!(%kid, %alg, "created signing key (first start, or a state was missing)");
            }
        }
        keys.refresh(store.as_ref(), clock.now()).await?;
        // Filled by its first catch-up, in the background once serving: until then every answer
        // comes from the store, so a store holding a million revocations does not hold up the
        // start (they took 1–3 s to read in the scale benchmark).
        let revocations = Arc::new(RevocationCache::new());
        let client_cache_ttl = settings.client_cache_ttl;
        let issuance_log = settings
            .audit_token_issuance
            .then(|| BatchedLog::start(store.clone()));
        let remote_jwks = Arc::new(
            crate::remote_jwks::RemoteJwks::new(settings.allow_http_jwks_uri)
                .map_err(StartError::Http)?,
        );
        Ok(Self(Arc::new(Shared {
            store,
            keys,
            settings: Arc::new(settings),
            clock,
            clients: Arc::new(ClientCache::new(client_cache_ttl)),
            catalog: Arc::new(CatalogCache::new(client_cache_ttl)),
            metrics: Arc::new(Metrics::new()),
            issuance_log,
            remote_jwks,
            logouts: Arc::default(),
            client_ca,
            revocations,
            passwords: Arc::new(PasswordSlots::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            )),
            metadata: crate::oauth::metadata::MetadataCache::default(),
        })))
    }
}

/// Open the store the settings name (not yet migrated).
pub async fn connect_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    use secrecy::ExposeSecret;
    store::connect(
        settings.database_url.expose_secret(),
        settings.database_max_connections,
    )
    .await
}
