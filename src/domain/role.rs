//! Roles (RFC 9068 §2.2.3.1 `roles`): names, the links that grant them, and a subject's effective
//! roles. Roles are global for now; a role bound to one API (a nullable audience) comes later.

use std::fmt;

use super::client::ClientId;
use super::group::GroupName;
use super::text::{NameError, check_name};
use super::user::UserId;

/// A role's name, as it appears in the `roles` claim (RFC 9068 §2.2.3.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// Parse an operator-given name (1-64 characters of `A-Z a-z 0-9 . _ - :`).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_name(raw, "role").map(Self)
    }

    /// Wrap a stored name.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its name.
    pub name: RoleName,
    /// What it is for (plain text, see [`super::text::plain_text`]).
    pub description: Option<String>,
    /// The API it belongs to: it appears only in that API's access tokens. `None`: a global role.
    pub api: Option<super::api::Audience>,
    /// The scopes it grants, for APIs created `--rbac`.
    pub scopes: Vec<String>,
    /// Its holders' sign-ins need two factors (`urn:latchkey:acr:mfa`).
    pub require_mfa: bool,
    /// Created (Unix seconds).
    pub created_at: i64,
}

/// Who holds a role directly: users (by username), clients, and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleHolders {
    /// Usernames, sorted.
    pub users: Vec<String>,
    /// Client ids, sorted.
    pub clients: Vec<ClientId>,
    /// Groups, sorted.
    pub groups: Vec<GroupName>,
}

/// What a group holds: its members (by username) and its roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupContents {
    /// Usernames, sorted.
    pub members: Vec<String>,
    /// Roles, sorted.
    pub roles: Vec<RoleName>,
}

/// One link that grants a role or a group membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// A user holds a role directly.
    UserRole(UserId, RoleName),
    /// A (service) client holds a role, for its client-credentials tokens.
    ClientRole(ClientId, RoleName),
    /// A user is a member of a group.
    GroupMember(GroupName, UserId),
    /// Every member of a group holds a role.
    GroupRole(GroupName, RoleName),
}

/// What a user is authorized as, read at token issuance: their effective roles (their own plus
/// their groups', RFC 9068 §2.2.3.1) and their groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// Effective roles, sorted, each once.
    pub roles: Vec<RoleName>,
    /// Roles held directly (not through a group), sorted.
    pub direct_roles: Vec<RoleName>,
    /// Groups, sorted.
    pub groups: Vec<GroupName>,
}

impl Authorization {
    /// A client's authorization: its own roles, no groups.
    pub fn of_client(roles: Vec<RoleName>) -> Self {
        Self {
            direct_roles: roles.clone(),
            roles,
            groups: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_1_to_64_characters_of_a_small_alphabet() {
        for good in ["admin", "orders:read", "team.lead_2-x", &"a".repeat(64)] {
            assert!(RoleName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "two words",
            "é",
            "a/b",
            "a\u{0}b",
            "a\nb",
            &"a".repeat(65),
        ] {
            let err = RoleName::parse(bad).unwrap_err();
            assert!(err.0.contains("not a valid role name"), "{bad:?}: {err}");
            assert!(!err.0.contains('\n') && !err.0.contains('\u{0}'));
        }
    }
}
