//! Roles (RFC 9068 §2.2.3.1) and who holds them: create, list, show, delete, and the roles of a
//! user or a (service) client.

use super::{AdminError, Change, change_link, find_client, find_user};
use crate::domain::api::Audience;
use crate::domain::client::Client;
use crate::domain::role::{Assignment, Role, RoleHolders, RoleName};
use crate::domain::scope::Scope;
use crate::domain::text::plain_text;
use crate::domain::user::User;
use crate::store::Store;

/// The longest role description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 200;

/// Parse a role name given by an operator.
pub fn parse_name(raw: &str) -> Result<RoleName, AdminError> {
    RoleName::parse(raw).map_err(|e| AdminError::Invalid(e.0))
}

/// What a new role is: its name, and optionally a description, an API and the scopes it grants.
#[derive(Debug, Default)]
pub struct NewRole<'a> {
    /// Shown to operators.
    pub description: Option<&'a str>,
    /// The API it belongs to (its audience).
    pub api: Option<&'a str>,
    /// Scopes it grants (each a scope of an API; of its own API when it has one).
    pub scopes: &'a [String],
    /// Its holders' sign-ins need two factors.
    pub require_mfa: bool,
}

/// What `role update` changes; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct RoleUpdate<'a> {
    /// A new description (`Some("")` removes it).
    pub description: Option<&'a str>,
    /// Whether its holders' sign-ins need two factors.
    pub require_mfa: Option<bool>,
}

/// The scopes a role of `api` (or of no API) grants, each once: every one registered among `known`
/// and a scope of an API — of the role's own API when it belongs to one (role-based scopes).
pub(crate) fn granted_scopes(
    scopes: &[String],
    known: &[Scope],
    api: Option<&Audience>,
) -> Result<Vec<String>, AdminError> {
    let mut granted: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let owner = match known.iter().find(|s| &s.name == scope) {
            None => return Err(AdminError::Invalid(format!("no scope named '{scope}'"))),
            Some(found) => found.api.as_ref(),
        };
        match (owner, api) {
            (None, _) => {
                return Err(AdminError::Invalid(format!(
                    "'{scope}' belongs to no API: a role grants API scopes"
                )));
            }
            (Some(owner), Some(own)) if owner != own => {
                return Err(AdminError::Invalid(format!(
                    "'{scope}' is a scope of '{owner}', not of the role's API '{own}'"
                )));
            }
            _ => {}
        }
        if !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
    Ok(granted)
}

/// Create the role `name`; a duplicate is refused.
pub async fn create(
    store: &dyn Store,
    name: RoleName,
    new: NewRole<'_>,
    now: i64,
) -> Result<Role, AdminError> {
    let NewRole {
        description,
        api,
        scopes,
        require_mfa,
    } = new;
    let api = match api {
        Some(raw) => {
            let audience = Audience::parse(raw).map_err(|e| AdminError::Invalid(e.0))?;
            if !store
                .list_apis()
                .await?
                .iter()
                .any(|a| a.audience == audience)
            {
                return Err(AdminError::Invalid(format!(
                    "no API with audience '{audience}'"
                )));
            }
            Some(audience)
        }
        None => None,
    };
    let description = description.map(checked_description).transpose()?;
    let known = store.list_scopes().await?;
    let granted = granted_scopes(scopes, &known, api.as_ref())?;
    let role = Role {
        name,
        description,
        api,
        scopes: granted,
        require_mfa,
        created_at: now,
    };
    store.create_role(&role).await?;
    Ok(role)
}

fn checked_description(text: &str) -> Result<String, AdminError> {
    plain_text(text, "the description", MAX_DESCRIPTION_LEN).map_err(AdminError::Invalid)
}

/// Change the role `name`: its description and whether its holders need two factors; its API and
/// scopes stay. The role as it now is.
pub async fn update(
    store: &dyn Store,
    name: &RoleName,
    change: RoleUpdate<'_>,
) -> Result<Role, AdminError> {
    let mut role = find(store, name).await?;
    if let Some(text) = change.description {
        role.description = (!text.is_empty())
            .then(|| checked_description(text))
            .transpose()?;
    }
    if let Some(flag) = change.require_mfa {
        role.require_mfa = flag;
    }
    if !store.update_role(&role).await? {
        return Err(AdminError::NotFound(format!("no role named '{name}'")));
    }
    Ok(role)
}

/// The role `name`, or an error naming it.
pub async fn find(store: &dyn Store, name: &RoleName) -> Result<Role, AdminError> {
    store
        .find_role(name)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no role named '{name}'")))
}

/// The role `name` with the users, clients and groups that hold it.
pub async fn show(store: &dyn Store, name: &RoleName) -> Result<(Role, RoleHolders), AdminError> {
    let role = find(store, name).await?;
    let holders = store.find_role_holders(name).await?;
    Ok((role, holders))
}

/// Delete the role `name` (every link granting it goes with it).
pub async fn delete(store: &dyn Store, name: &RoleName) -> Result<(), AdminError> {
    if !store.delete_role(name).await? {
        return Err(AdminError::NotFound(format!("no role named '{name}'")));
    }
    Ok(())
}

/// Give the user `username` the role `role` directly, or take it (roles held through a group stay);
/// refused if there is nothing to change.
pub async fn user_role(
    store: &dyn Store,
    username: &str,
    role: &RoleName,
    change: Change,
) -> Result<User, AdminError> {
    let user = find_user(store, username).await?;
    find(store, role).await?;
    let link = Assignment::UserRole(user.user_id.clone(), role.clone());
    let name = &user.username;
    change_link(store, &link, change, || match change {
        Change::Add => {
            format!("the user '{name}' already has the role '{role}' (or it was deleted meanwhile)")
        }
        Change::Remove => format!("the user '{name}' does not hold the role '{role}' directly"),
    })
    .await?;
    Ok(user)
}

/// Give the client `client_id` the role `role` (carried by its client-credentials tokens), or take
/// it; refused if there is nothing to change.
pub async fn client_role(
    store: &dyn Store,
    client_id: &str,
    role: &RoleName,
    change: Change,
) -> Result<Client, AdminError> {
    let client = find_client(store, client_id).await?;
    find(store, role).await?;
    let link = Assignment::ClientRole(client.client_id.clone(), role.clone());
    let id = &client.client_id;
    change_link(store, &link, change, || match change {
        Change::Add => {
            format!("the client '{id}' already has the role '{role}' (or it was deleted meanwhile)")
        }
        Change::Remove => format!("the client '{id}' does not have the role '{role}'"),
    })
    .await?;
    Ok(client)
}

/// A role as the CLI prints it and the admin API answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Role)]
pub struct RoleView<'a> {
    /// Its name, as tokens carry it in `roles` (RFC 9068 §2.2.3.1).
    name: &'a str,
    /// Shown to operators.
    description: Option<&'a str>,
    /// The API it belongs to, by audience.
    api: Option<&'a str>,
    /// The scopes it grants (role-based scopes).
    scopes: &'a [String],
    /// Its holders' sign-ins need two factors (`urn:latchkey:acr:mfa`).
    require_mfa: bool,
    /// When it was created (seconds since the epoch).
    created_at: i64,
}

impl<'a> From<&'a Role> for RoleView<'a> {
    fn from(role: &'a Role) -> Self {
        Self {
            name: role.name.as_str(),
            description: role.description.as_deref(),
            api: role.api.as_ref().map(|a| a.as_str()),
            scopes: &role.scopes,
            require_mfa: role.require_mfa,
            created_at: role.created_at,
        }
    }
}
