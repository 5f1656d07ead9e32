//! The catalog of APIs and scopes, cached in memory like client registrations (`--client-cache-ttl`),
//! so deciding which API a token is for (RFC 8707) costs no store round trip on the hot paths.

use std::sync::{Arc, RwLock};

use crate::clock::UnixTime;
use crate::domain::api::{Api, Audience};
use crate::domain::role::Role;
use crate::domain::scope::Scope;
use crate::store::{Store, StoreError};

/// Every API and scope, as read at one moment.
#[derive(Debug, Default)]
pub struct Catalog {
    /// The APIs.
    pub apis: Vec<Api>,
    /// The scopes.
    pub scopes: Vec<Scope>,
    /// The roles (to tell global ones from an API's).
    pub roles: Vec<Role>,
}

impl Catalog {
    /// The API with `audience`.
    pub fn api(&self, audience: &str) -> Option<&Api> {
        self.apis
            .iter()
            .find(|api| api.audience.as_str() == audience)
    }

    /// The API a scope belongs to, if any.
    pub fn api_of_scope(&self, scope: &str) -> Option<&Audience> {
        self.scopes
            .iter()
            .find(|s| s.name == scope)
            .and_then(|s| s.api.as_ref())
    }

    /// RFC 9068 §2.2.3.1: whether the role `name` belongs in an access token for `api` (`None`: a
    /// token for no API). Global roles belong in every token; an API's only in that API's.
    pub fn role_applies(&self, name: &str, api: Option<&Audience>) -> bool {
        match self.roles.iter().find(|r| r.name.as_str() == name) {
            Some(role) => role.api.is_none() || role.api.as_ref() == api,
            None => true,
        }
    }

    /// Whether any role needs two factors of its holders (so a sign-in need not read the user's
    /// roles otherwise).
    pub fn any_role_requires_mfa(&self) -> bool {
        self.roles.iter().any(|r| r.require_mfa)
    }

    /// Whether the role `name` needs two factors of its holders (`role create --require-mfa`).
    pub fn role_requires_mfa(&self, name: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.require_mfa && r.name.as_str() == name)
    }

    /// OIDC Discovery §3 `scopes_supported`: every scope not created `--hidden`.
    pub fn supported_scopes(&self) -> Vec<&str> {
        self.scopes
            .iter()
            .filter(|s| !s.hidden)
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// The catalog, re-read from the store when older than `ttl` seconds (0: on every use).
#[derive(Debug)]
pub struct CatalogCache {
    ttl: i64,
    current: RwLock<Option<(Arc<Catalog>, UnixTime)>>,
}

impl CatalogCache {
    /// A cache keeping the catalog `ttl` seconds.
    pub fn new(ttl: i64) -> Self {
        Self {
            ttl,
            current: RwLock::new(None),
        }
    }

    /// The catalog, from memory if read less than `ttl` ago, else from the store.
    pub async fn get(&self, store: &dyn Store, now: UnixTime) -> Result<Arc<Catalog>, StoreError> {
        if self.ttl > 0 {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            if let Some((catalog, read_at)) = current.as_ref()
                && now - read_at < self.ttl
                && now >= *read_at
            {
                return Ok(Arc::clone(catalog));
            }
        }
        let catalog = Arc::new(Catalog {
            apis: store.list_apis().await?,
            scopes: store.list_scopes().await?,
            roles: store.list_roles().await?,
        });
        if self.ttl > 0 {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            *current = Some((Arc::clone(&catalog), now));
        }
        Ok(catalog)
    }
}
