//! The writes of a declarative configuration (`latchkey apply`), applied by the store in ONE
//! transaction: all of them, or none.

use super::api::{Api, Audience};
use super::client::{Client, ClientId, SealedSecret};
use super::group::{Group, GroupName};
use super::role::{Assignment, Role, RoleName};
use super::scope::Scope;
use super::secret::TokenHash;
use super::user::{User, UserId};

/// One write of a configuration, in the order the plan lists them (things before what refers to
/// them; links removed before what they link).
#[derive(Debug, Clone)]
pub enum Write {
    /// Register a scope.
    CreateScope(Scope),
    /// Change a scope's description, API and visibility.
    UpdateScope(Scope),
    /// Delete a scope (never a builtin one).
    DeleteScope(String),
    /// Register an API.
    CreateApi(Api),
    /// Change an API's settings.
    UpdateApi(Api),
    /// Delete an API.
    DeleteApi(Audience),
    /// Create a role with its scopes.
    CreateRole(Role),
    /// Change a role's description, API and scopes.
    UpdateRole(Role),
    /// Delete a role.
    DeleteRole(RoleName),
    /// Create a group.
    CreateGroup(Group),
    /// Delete a group.
    DeleteGroup(GroupName),
    /// Register a client (with its secret's hash, if confidential).
    CreateClient(Client),
    /// Replace a client's registration (not its secret).
    UpdateClient(Client),
    /// Replace a client's secret hash, and its sealed copy (`client_secret_jwt` only).
    SetClientSecret(ClientId, TokenHash, Option<SealedSecret>, i64),
    /// Delete a client and everything issued to it.
    DeleteClient(ClientId),
    /// Create a user.
    CreateUser(User),
    /// Change a user's e-mail address and name.
    UpdateUser(User),
    /// Delete a user and everything issued to them, at this time (the clients they were signed in
    /// to are told, OIDC Back-Channel Logout).
    DeleteUser(UserId, i64),
    /// Add a role or membership link.
    Link(Assignment),
    /// Remove one.
    Unlink(Assignment),
}

impl Write {
    /// What the write does, for an error message: `create scope orders:read`.
    pub fn describe(&self) -> String {
        match self {
            Self::CreateScope(s) => format!("create scope {}", s.name),
            Self::UpdateScope(s) => format!("update scope {}", s.name),
            Self::DeleteScope(name) => format!("delete scope {name}"),
            Self::CreateApi(a) => format!("create API {}", a.audience),
            Self::UpdateApi(a) => format!("update API {}", a.audience),
            Self::DeleteApi(audience) => format!("delete API {audience}"),
            Self::CreateRole(r) => format!("create role {}", r.name),
            Self::UpdateRole(r) => format!("update role {}", r.name),
            Self::DeleteRole(name) => format!("delete role {name}"),
            Self::CreateGroup(g) => format!("create group {}", g.name),
            Self::DeleteGroup(name) => format!("delete group {name}"),
            Self::CreateClient(c) => format!("create client {}", c.client_id),
            Self::UpdateClient(c) => format!("update client {}", c.client_id),
            Self::SetClientSecret(id, ..) => format!("set the secret of client {id}"),
            Self::DeleteClient(id) => format!("delete client {id}"),
            Self::CreateUser(u) => format!("create user {}", u.username),
            Self::UpdateUser(u) => format!("update user {}", u.username),
            Self::DeleteUser(id, _) => format!("delete user {id}"),
            Self::Link(link) => format!("add {link:?}"),
            Self::Unlink(link) => format!("remove {link:?}"),
        }
    }
}
