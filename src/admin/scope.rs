//! Scopes: the rules of creating and deleting one, shared by the CLI and the admin API, and the view
//! both show.

use serde::Serialize;

use super::AdminError;
use crate::domain::api::Audience;
use crate::domain::scope::{Scope, is_scope_token};
use crate::store::Store;

/// A scope as the CLI prints it and the admin API answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Scope)]
pub struct ScopeView<'a> {
    /// Its name (RFC 6749 §3.3 scope-token).
    name: &'a str,
    /// What granting it allows, shown on the consent page.
    description: &'a str,
    /// An OpenID Connect scope, which always exists and cannot be deleted.
    builtin: bool,
    /// The API it belongs to, by audience.
    api: Option<&'a str>,
    /// Kept out of discovery's `scopes_supported`.
    hidden: bool,
}

impl<'a> From<&'a Scope> for ScopeView<'a> {
    fn from(s: &'a Scope) -> Self {
        Self {
            name: &s.name,
            description: &s.description,
            builtin: s.builtin,
            api: s.api.as_ref().map(Audience::as_str),
            hidden: s.hidden,
        }
    }
}

/// A scope to create, as given.
#[derive(Debug, Clone, Default)]
pub struct NewScope {
    /// Its name (RFC 6749 §3.3 scope-token).
    pub name: String,
    /// What granting it allows, shown on the consent page.
    pub description: String,
    /// The API it belongs to (its audience), if any.
    pub api: Option<String>,
    /// Kept out of discovery.
    pub hidden: bool,
}

/// The audience of a registered API, or one clear error.
pub async fn registered_api(store: &dyn Store, raw: &str) -> Result<Audience, AdminError> {
    let audience = Audience::parse(raw).map_err(|e| AdminError::Invalid(e.0))?;
    let known = store.list_apis().await?;
    if !known.iter().any(|api| api.audience == audience) {
        return Err(AdminError::Invalid(format!(
            "no API with audience '{audience}' (register it first with `latchkey api create`)"
        )));
    }
    Ok(audience)
}

/// Check `new`'s name (RFC 6749 §3.3 scope-token) and return its description, checked.
pub(crate) fn checked_description(new: &NewScope) -> Result<String, AdminError> {
    if !is_scope_token(&new.name) {
        return Err(AdminError::Invalid(format!(
            "'{}' is not a valid scope (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)",
            new.name.escape_default()
        )));
    }
    crate::domain::text::plain_text(&new.description, "the description", 200)
        .map_err(AdminError::Invalid)
}

/// Create the scope `new` at `now`; a duplicate is refused.
pub async fn create(store: &dyn Store, new: NewScope, now: i64) -> Result<Scope, AdminError> {
    let description = checked_description(&new)?;
    let api = match &new.api {
        Some(raw) => Some(registered_api(store, raw).await?),
        None => None,
    };
    let scope = Scope {
        name: new.name,
        description,
        api,
        hidden: new.hidden,
        builtin: false,
        created_at: now,
    };
    store.create_scope(&scope).await?;
    Ok(scope)
}

/// Delete the scope `name`: not an OIDC scope, and allowed to no client any more.
pub async fn delete(store: &dyn Store, name: &str) -> Result<(), AdminError> {
    let missing = || AdminError::NotFound(format!("no scope named '{}'", name.escape_default()));
    match store.list_scopes().await?.iter().find(|s| s.name == name) {
        None => return Err(missing()),
        Some(s) if s.builtin => {
            return Err(AdminError::Invalid(format!(
                "'{name}' is an OIDC scope and cannot be deleted"
            )));
        }
        Some(_) => {}
    }
    let users: Vec<String> = store
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| c.scopes.contains(name))
        .map(|c| c.client_id.to_string())
        .collect();
    if !users.is_empty() {
        return Err(AdminError::Invalid(format!(
            "scope '{name}' is still allowed for client(s) {}; remove it from them first",
            users.join(", ")
        )));
    }
    if !store.delete_scope(name).await? {
        return Err(missing());
    }
    Ok(())
}
