//! THE PROTOCOL LAYER: the OAuth 2.0 / OpenID Connect decisions, as plain functions over a narrow
//! [`Context`] (store, keys, settings, the client cache, and `now` read once at the edge) and typed
//! input. No axum types here: `endpoints/` extracts, calls one function, and maps the result.

use std::collections::HashMap;

use crate::catalog::CatalogCache;
use crate::client_cache::ClientCache;
use crate::clock::UnixTime;
use crate::config::Settings;
use crate::domain::user::{User, UserId};
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

pub mod account;
pub mod admin;
pub mod authorize;
pub mod backchannel_logout;
pub mod client_auth;
pub mod device;
pub mod dpop;
pub mod end_session;
pub mod introspect;
pub mod metadata;
pub mod mtls;
pub mod par;
pub mod passkey;
pub mod registration;
pub mod resource;
pub mod revoke;
pub mod second_factor;
pub mod sign_in;
pub mod throttle;
pub mod token;
pub mod userinfo;

/// Request parameters, each present at most once (RFC 6749 §3.1, §3.2), as the edge collected them.
pub type Params = HashMap<String, String>;

/// What a protocol decision may use: the store, the keys, the settings, the client cache, and the
/// request's one reading of the clock.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// Signing and verification keys.
    pub keys: &'a KeyRing,
    /// Validated settings.
    pub settings: &'a Settings,
    /// Client registrations, cached for `--client-cache-ttl`.
    pub clients: &'a ClientCache,
    /// APIs and scopes, cached for `--client-cache-ttl`.
    pub catalog: &'a CatalogCache,
    /// Where what happens is counted.
    pub metrics: &'a Metrics,
    /// Token issuance in the audit trail, when `--audit-token-issuance` asks for it.
    pub issuance_log: Option<&'a crate::audit::BatchedLog>,
    /// Keys fetched from clients' `jwks_uri`.
    pub remote_jwks: &'a crate::remote_jwks::RemoteJwks,
    /// The CAs `tls_client_auth` certificates must chain to (`--mtls-ca`), if any.
    pub client_ca: Option<&'a crate::tls::TrustRoots>,
    /// The revocations in memory: "is this JWT revoked?" without a store round trip.
    pub revocations: &'a crate::revocation_cache::RevocationCache,
    /// The time of this request.
    pub now: UnixTime,
}

/// The one rule for "the user is active": they still exist and are not disabled. A user who is not
/// active signs in to nothing and their tokens stop working.
pub async fn active_user(store: &dyn Store, user_id: &UserId) -> Result<Option<User>, StoreError> {
    Ok(store
        .find_user(user_id)
        .await?
        .filter(|user| !user.disabled))
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
pub(crate) mod testing;
