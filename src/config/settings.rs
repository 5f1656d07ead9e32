//! The validated settings every command runs with: lifetimes, the key policy, where the
//! key-encryption secret comes from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{DatabaseKind, Issuer, TransportSettings};
use crate::domain::alg::SigningAlg;

/// Where the key-encryption secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Given directly.
    Value(SecretString),
    /// Read from a file the operator manages; it must exist.
    File(PathBuf),
    /// The embedded default: a file beside the SQLite database, created (mode 0600) if missing.
    DefaultFile(PathBuf),
    /// An in-memory database: a fresh random secret for this process.
    Ephemeral,
    /// None given, and the backend has no default (PostgreSQL): commands that need keys refuse to run.
    Missing,
}

/// Token and session lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access token lifetime (RFC 9068 `exp - iat`).
    pub access_token: i64,
    /// ID token lifetime (OIDC Core §2 `exp - iat`).
    pub id_token: i64,
    /// Refresh token lifetime (sliding: each rotation starts it again).
    pub refresh_token: i64,
    /// The absolute cap on a grant's refresh tokens, counted from the authorization.
    pub refresh_token_absolute: i64,
    /// Grace window for a retried, already-rotated refresh token.
    pub refresh_token_grace: i64,
    /// Browser session lifetime.
    pub session: i64,
    /// Authorization code lifetime: 60 s (RFC 6749 §4.1.2 recommends at most ten minutes).
    pub authorization_code: i64,
}

impl Lifetimes {
    /// The longest life of a token signed under the server-wide settings (an API may set a longer
    /// access-token lifetime of its own: see `keys::retention`).
    pub fn key_retention(&self) -> i64 {
        self.access_token.max(self.id_token)
    }

    /// How long a grant revocation is remembered: as long as anything issued from the grant (an
    /// access token, a refresh token) could still be presented.
    pub fn revocation_retention(&self) -> i64 {
        self.access_token.max(self.refresh_token)
    }

    /// When a refresh token issued at `now` for a grant made at `grant_created_at` expires: the
    /// sliding `--refresh-token-ttl`, capped by `--refresh-token-absolute-ttl`.
    pub fn refresh_token_expiry(&self, grant_created_at: i64, now: i64) -> i64 {
        (now.saturating_add(self.refresh_token))
            .min(grant_created_at.saturating_add(self.refresh_token_absolute))
    }
}

/// Whole seconds, saturating.
pub(super) fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The JWKS `Cache-Control` max-age when the next key is published long enough ahead.
pub const JWKS_MAX_AGE: i64 = 300;

impl Settings {
    /// The key life-cycle times `keys::` works with.
    pub fn key_policy(&self) -> KeyPolicy {
        KeyPolicy {
            token_lifetime: self.lifetimes.key_retention(),
            refresh_interval: seconds(self.key_refresh_interval),
            rotation_interval: seconds(self.key_rotation_interval),
            publish_ahead: self.key_publish_ahead,
        }
    }
}

/// When keys rotate and how long they stay published (DESIGN.md "Keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The longest life of a token signed under the server-wide settings.
    pub token_lifetime: i64,
    /// `--key-refresh-interval`: how long another instance may still sign with a key after a rotation.
    pub refresh_interval: i64,
    /// `--key-rotation-interval` (0: manual rotation only).
    pub rotation_interval: i64,
    /// `--key-publish-ahead`: how long the next key is published before it may sign.
    pub publish_ahead: i64,
}

impl KeyPolicy {
    /// The JWKS `Cache-Control` max-age: a verifier's cached copy must already hold a key when it
    /// starts signing, and a key is published `publish_ahead` before, which an instance may learn up
    /// to `refresh_interval` late.
    pub fn jwks_max_age(&self) -> i64 {
        JWKS_MAX_AGE
            .min(self.publish_ahead - self.refresh_interval)
            .max(0)
    }
}

/// The validated configuration the server and the CLI run with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer identifier.
    pub issuer: Issuer,
    /// The `aud` of access tokens.
    pub access_token_audience: String,
    /// The access-token signing algorithm.
    pub access_token_alg: SigningAlg,
    /// The default ID-token signing algorithm.
    pub id_token_alg: SigningAlg,
    /// The listen address.
    pub bind: SocketAddr,
    /// HTTPS, and where client certificates come from (RFC 8705 §2).
    pub transport: TransportSettings,
    /// Where `/metrics` is served when not on `bind`.
    pub metrics_bind: Option<SocketAddr>,
    /// The database URL (may hold a password, so it is secret).
    pub database_url: SecretString,
    /// The backend the URL names.
    pub database_kind: DatabaseKind,
    /// Pool size.
    pub database_max_connections: u32,
    /// Where the key-encryption secret comes from.
    pub key_secret: SecretSource,
    /// Lifetimes.
    pub lifetimes: Lifetimes,
    /// How often instances re-read the key set.
    pub key_refresh_interval: Duration,
    /// How long a key signs before a server rotates it (zero: manual only).
    pub key_rotation_interval: Duration,
    /// Seconds the next key is published before it may sign.
    pub key_publish_ahead: i64,
    /// How often housekeeping runs.
    pub gc_interval: Duration,
    /// Seconds a client registration is cached.
    pub client_cache_ttl: i64,
    /// Seconds audit events are kept.
    pub audit_retention: i64,
    /// Whether every token issued is an audit event.
    pub audit_token_issuance: bool,
    /// Whether `/authorize` takes only pushed requests (RFC 9126 §5).
    pub require_par: bool,
    /// Whether every sign-in needs two factors (`--require-mfa`).
    pub require_mfa: bool,
    /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8).
    pub dpop_nonce: bool,
    /// Whether a `jwks_uri` may be fetched over plain http.
    pub allow_http_jwks_uri: bool,
    /// Who may register clients at `/register` (RFC 7591 §3).
    pub registration: crate::domain::registration::RegistrationPolicy,
}
