//! APIs (resource servers, RFC 8707): the rules of registering, changing and deleting one, shared by
//! the CLI and the admin API, and the view both show.

use serde::Serialize;

use super::AdminError;
use crate::domain::alg::SigningAlg;
use crate::domain::api::{Api, ApiError, Audience};
use crate::domain::scope::{Scope, is_scope_token};
use crate::domain::text::plain_text;
use crate::store::Store;

/// An API as the CLI prints it and the admin API answers: with its scopes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Api)]
pub struct ApiView<'a> {
    /// Its audience: the `aud` of its tokens and the `resource` that names it (RFC 8707 §2).
    pub audience: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its tokens' lifetime in seconds, if not the server's.
    pub access_token_ttl: Option<i64>,
    /// Its tokens' algorithm, if not the server's.
    pub access_token_alg: Option<&'static str>,
    /// `jwt` or `opaque`.
    pub token_format: &'static str,
    /// Role-based scopes.
    pub rbac: bool,
    /// The scopes that belong to it.
    pub scopes: Vec<&'a str>,
    /// When it was registered (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    updated_at: i64,
}

/// `api`'s view, its scopes found among `scopes`.
pub fn view<'a>(api: &'a Api, scopes: &'a [Scope]) -> ApiView<'a> {
    ApiView {
        audience: api.audience.as_str(),
        name: &api.name,
        access_token_ttl: api.access_token_ttl,
        access_token_alg: api.access_token_alg.map(SigningAlg::as_str),
        token_format: api.token_format.as_str(),
        rbac: api.rbac,
        scopes: scopes
            .iter()
            .filter(|s| s.api.as_ref() == Some(&api.audience))
            .map(|s| s.name.as_str())
            .collect(),
        created_at: api.created_at,
        updated_at: api.updated_at,
    }
}

/// A token lifetime as given (`0`: the server's), in seconds.
pub fn lifetime(duration: std::time::Duration) -> Result<Option<i64>, AdminError> {
    match i64::try_from(duration.as_secs()) {
        Ok(0) => Ok(None),
        Ok(seconds) => Ok(Some(seconds)),
        Err(_) => Err(AdminError::Invalid("the token lifetime is too long".into())),
    }
}

/// The API with audience `raw`.
pub async fn find(store: &dyn Store, raw: &str) -> Result<Api, AdminError> {
    let audience = Audience::parse(raw).map_err(|e| AdminError::Invalid(e.0))?;
    store
        .list_apis()
        .await?
        .into_iter()
        .find(|api| api.audience == audience)
        .ok_or_else(|| AdminError::NotFound(format!("no API with audience '{audience}'")))
}

/// An API to register, as given.
#[derive(Debug, Clone, Default)]
pub struct NewApi {
    /// Its audience (RFC 8707 §2: an absolute URI).
    pub audience: String,
    /// Its name.
    pub name: String,
    /// Scopes for it: created, or existing scopes of no API attached.
    pub scopes: Vec<String>,
    /// Its tokens' lifetime (`None` or zero: the server's).
    pub token_ttl: Option<std::time::Duration>,
    /// Its tokens' algorithm (`None`: the server's).
    pub token_alg: Option<SigningAlg>,
    /// `jwt` or `opaque`.
    pub token_format: String,
    /// Role-based scopes.
    pub rbac: bool,
}

/// The API `new` describes, checked (not its scopes), registered at `now`.
pub(crate) fn build(new: &NewApi, now: i64) -> Result<Api, AdminError> {
    Ok(Api {
        audience: Audience::parse(&new.audience).map_err(|e| AdminError::Invalid(e.0))?,
        name: plain_text(&new.name, "the name", 200).map_err(AdminError::Invalid)?,
        access_token_ttl: new.token_ttl.map(lifetime).transpose()?.flatten(),
        access_token_alg: new.token_alg,
        token_format: new
            .token_format
            .parse()
            .map_err(|e: ApiError| AdminError::Invalid(e.0))?,
        rbac: new.rbac,
        created_at: now,
        updated_at: now,
    })
}

/// Register `new` at `now`, with its scopes. Every scope is checked before anything is written.
pub async fn create(store: &dyn Store, new: &NewApi, now: i64) -> Result<Api, AdminError> {
    let api = build(new, now)?;
    let existing = store.list_scopes().await?;
    for scope in &new.scopes {
        if !is_scope_token(scope) {
            return Err(AdminError::Invalid(format!(
                "'{}' is not a valid scope (RFC 6749 §3.3)",
                scope.escape_default()
            )));
        }
        match existing.iter().find(|s| &s.name == scope) {
            Some(s) if s.builtin => {
                return Err(AdminError::Invalid(format!(
                    "'{scope}' is an OIDC scope and belongs to no API"
                )));
            }
            Some(Scope {
                api: Some(other), ..
            }) => {
                return Err(AdminError::Invalid(format!(
                    "scope '{scope}' belongs to the API '{other}'"
                )));
            }
            _ => {}
        }
    }
    store.create_api(&api).await?;
    for scope in &new.scopes {
        if existing.iter().any(|s| &s.name == scope) {
            store.set_scope_api(scope, Some(&api.audience)).await?;
        } else {
            store
                .create_scope(&Scope {
                    name: scope.clone(),
                    description: scope.clone(),
                    builtin: false,
                    api: Some(api.audience.clone()),
                    hidden: false,
                    created_at: now,
                })
                .await?;
        }
    }
    Ok(api)
}

/// What to change of an API; `None` keeps it.
#[derive(Debug, Clone, Default)]
pub struct ApiChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new token lifetime (zero: the server's).
    pub token_ttl: Option<std::time::Duration>,
    /// A new algorithm (empty: the server's).
    pub token_alg: Option<String>,
    /// `jwt` or `opaque`.
    pub token_format: Option<String>,
    /// Role-based scopes on or off.
    pub rbac: Option<bool>,
}

/// Change the API `audience` by `changes` at `now`.
pub async fn update(
    store: &dyn Store,
    audience: &str,
    changes: &ApiChanges,
    now: i64,
) -> Result<Api, AdminError> {
    let mut api = find(store, audience).await?;
    if let Some(name) = &changes.name {
        api.name = plain_text(name, "the name", 200).map_err(AdminError::Invalid)?;
    }
    if let Some(ttl) = changes.token_ttl {
        api.access_token_ttl = lifetime(ttl)?;
    }
    if let Some(alg) = &changes.token_alg {
        api.access_token_alg = match alg.trim() {
            "" => None,
            alg => Some(alg.parse().map_err(AdminError::Invalid)?),
        };
    }
    if let Some(rbac) = changes.rbac {
        api.rbac = rbac;
    }
    if let Some(format) = &changes.token_format {
        api.token_format = format
            .parse()
            .map_err(|e: ApiError| AdminError::Invalid(e.0))?;
    }
    api.updated_at = now;
    if !store.update_api(&api).await? {
        return Err(AdminError::NotFound(format!(
            "no API with audience '{}'",
            api.audience
        )));
    }
    Ok(api)
}

/// Delete the API `audience`: no client may still list it, and no scope or role belong to it.
pub async fn delete(store: &dyn Store, audience: &str) -> Result<Api, AdminError> {
    let api = find(store, audience).await?;
    let clients: Vec<String> = store
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| c.resources.contains(&api.audience))
        .map(|c| c.client_id.to_string())
        .collect();
    if !clients.is_empty() {
        return Err(AdminError::Invalid(format!(
            "the API is a resource of client(s) {}; remove it from them first",
            clients.join(", ")
        )));
    }
    if !store.delete_api(&api.audience).await? {
        return Err(AdminError::Invalid(format!(
            "the API '{}' still has scopes or roles; delete them first",
            api.audience
        )));
    }
    Ok(api)
}
