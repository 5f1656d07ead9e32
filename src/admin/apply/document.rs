//! The configuration document (`latchkey apply` reads it, `latchkey export` writes it): each
//! item's keys are the CLI's option names with `_` for `-`, repeatable options as lists under their
//! plural; and the store's configuration as such a document.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Current;
use crate::admin::AdminError;
use crate::domain::api::{Api, Audience};
use crate::domain::client::{Client, ClientId};
use crate::domain::role::{Assignment, Role};
use crate::domain::scope::Scope;
use crate::domain::user::{User, UserId};
use crate::store::Store;

fn is_false(value: &bool) -> bool {
    !*value
}

/// The configuration document: each item's keys are the CLI's option names with `_` for `-`,
/// repeatable options as lists under their plural.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationDocument)]
pub struct Document {
    /// `scope create`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ScopeItem>,
    /// `api create`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<ApiItem>,
    /// `role create`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleItem>,
    /// `group create`, its members and roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupItem>,
    /// `client create` and its roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientItem>,
    /// `user create` (without a password) and its roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserItem>,
}

/// A scope: `scope create NAME --description … [--api …] [--hidden]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationScopeItem)]
pub struct ScopeItem {
    /// The scope token.
    pub name: String,
    /// What it allows, shown on the consent page.
    pub description: String,
    /// The API (audience) it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Kept out of discovery.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
}

/// An API: `api create --audience … --name … [--scope …] [--token-ttl …] [--token-alg …]
/// [--token-format …] [--rbac]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationApiItem)]
pub struct ApiItem {
    /// Its audience.
    pub audience: String,
    /// Its name.
    pub name: String,
    /// Scopes of this API (created with their name as description when `scopes` does not list them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Its tokens' lifetime (`600`, `10m`, `1h`; absent: the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<String>,
    /// RS256, ES256 or EdDSA (absent: the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_alg: Option<String>,
    /// `jwt` (the default) or `opaque`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_format: Option<String>,
    /// Role-based scopes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rbac: bool,
}

/// A role: `role create NAME [--description …] [--api …] [--scope …]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationRoleItem)]
pub struct RoleItem {
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The API (audience) it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The scopes it grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Its holders' sign-ins need two factors.
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_mfa: bool,
}

/// A group: `group create NAME`, `group add-member`, `group add-role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationGroupItem)]
pub struct GroupItem {
    /// Its name.
    pub name: String,
    /// Its members' usernames: exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Its roles: exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// A client: `client create`'s options, and `client add-role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationClientItem)]
pub struct ClientItem {
    /// Its id (required: it is how an item finds its client again).
    pub client_id: String,
    /// Display name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[allow(missing_docs)]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[allow(missing_docs)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[allow(missing_docs)]
    pub grant_types: Vec<String>,
    /// Space-delimited, as on the command line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// `client_secret_basic` (the default), `client_secret_post`, `client_secret_jwt`,
    /// `private_key_jwt` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    #[allow(missing_docs)]
    pub skip_consent: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    #[allow(missing_docs)]
    pub introspect_any: bool,
    /// Sign-ins only through pushed authorization requests (RFC 9126 §6).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_par: bool,
    /// Only DPoP-bound tokens (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_dpop: bool,
    /// Sign-ins need two factors.
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_mfa: bool,
    /// Certificate-bound access tokens (RFC 8705 §3.4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2 `tls_client_auth_subject_dn` (with `auth_method: tls_client_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_dns` (with `auth_method: tls_client_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_uri` (with `auth_method: tls_client_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_ip` (with `auth_method: tls_client_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_email` (with `auth_method: tls_client_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// Its public keys, a JWK set (`private_key_jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// Where it publishes them instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Where it receives logout tokens (OIDC Back-Channel Logout §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// It needs `sid` in logout tokens.
    #[serde(default, skip_serializing_if = "is_false")]
    pub backchannel_logout_session_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    #[allow(missing_docs)]
    pub allow_no_pkce: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub id_token_signed_response_alg: Option<String>,
    /// `web` (the default) or `native`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[allow(missing_docs)]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub default_resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub api: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[allow(missing_docs)]
    pub may_exchange_for: Vec<String>,
    /// Its roles: exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// A file holding its secret (read by the CLI, never sent in the document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<String>,
    /// An environment variable holding its secret (read by the CLI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

/// A user: `user create --username … [--email …] [--name …]` (no password: set one with
/// `user set-password`), and `user add-role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfigurationUserItem)]
pub struct UserItem {
    /// The sign-in name (case-insensitive).
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub name: Option<String>,
    /// Roles held directly: exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// A duration as the CLI writes it, exact: `30d`, `1h`, `90s`.
pub(super) fn format_seconds(seconds: i64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

pub(super) fn scope_item(scope: &Scope) -> ScopeItem {
    ScopeItem {
        name: scope.name.clone(),
        description: scope.description.clone(),
        api: scope.api.as_ref().map(|a| a.as_str().to_owned()),
        hidden: scope.hidden,
    }
}

pub(super) fn api_item(api: &Api) -> ApiItem {
    ApiItem {
        audience: api.audience.as_str().to_owned(),
        name: api.name.clone(),
        scopes: Vec::new(),
        token_ttl: api.access_token_ttl.map(format_seconds),
        token_alg: api.access_token_alg.map(|alg| alg.as_str().to_owned()),
        token_format: Some(api.token_format.as_str().to_owned()).filter(|f| f != "jwt"),
        rbac: api.rbac,
    }
}

pub(super) fn role_item(role: &Role) -> RoleItem {
    let mut scopes = role.scopes.clone();
    scopes.sort();
    RoleItem {
        name: role.name.as_str().to_owned(),
        description: role.description.clone(),
        api: role.api.as_ref().map(|a| a.as_str().to_owned()),
        scopes,
        require_mfa: role.require_mfa,
    }
}

pub(super) fn client_item(client: &Client, roles: Vec<String>) -> ClientItem {
    let strings = |items: &[Audience]| items.iter().map(|a| a.as_str().to_owned()).collect();
    ClientItem {
        client_id: client.client_id.as_str().to_owned(),
        name: client.client_name.clone(),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        post_logout_redirect_uris: client
            .post_logout_redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        grant_types: client
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        scope: client.scopes.to_string(),
        auth_method: Some(client.auth_method.as_str().to_owned()),
        skip_consent: client.skip_consent,
        introspect_any: client.introspect_any,
        require_par: client.require_par,
        require_dpop: client.require_dpop,
        require_mfa: client.require_mfa,
        tls_client_certificate_bound_access_tokens: client.tls_bound_tokens,
        tls_client_auth_subject_dn: client
            .tls_subject
            .as_ref()
            .and_then(|s| s.field("subject_dn")),
        tls_client_auth_san_dns: client.tls_subject.as_ref().and_then(|s| s.field("san_dns")),
        tls_client_auth_san_uri: client.tls_subject.as_ref().and_then(|s| s.field("san_uri")),
        tls_client_auth_san_ip: client.tls_subject.as_ref().and_then(|s| s.field("san_ip")),
        tls_client_auth_san_email: client
            .tls_subject
            .as_ref()
            .and_then(|s| s.field("san_email")),
        jwks: client
            .jwks
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok()),
        jwks_uri: client.jwks_uri.clone(),
        backchannel_logout_uri: client.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: client.backchannel_logout_session_required,
        allow_no_pkce: !client.require_pkce,
        id_token_signed_response_alg: client.id_token_alg.map(|alg| alg.as_str().to_owned()),
        application_type: Some(client.application_type.as_str().to_owned()),
        resources: strings(&client.resources),
        default_resource: client
            .default_resource
            .as_ref()
            .map(|a| a.as_str().to_owned()),
        api: client.api.as_ref().map(|a| a.as_str().to_owned()),
        may_exchange_for: strings(&client.may_exchange_for),
        roles,
        secret_file: None,
        secret_env: None,
    }
}

pub(super) fn user_item(user: &User, roles: Vec<String>) -> UserItem {
    UserItem {
        username: user.username.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        roles,
    }
}

/// The store's configuration as a document: every scope but the OIDC ones, every API, role, group,
/// client and user, with their links; no secret or password.
pub async fn export(store: &dyn Store) -> Result<Document, AdminError> {
    let current = Current::load(store).await?;
    let mut document = Document {
        scopes: current
            .scopes
            .iter()
            .filter(|s| !s.builtin)
            .map(scope_item)
            .collect(),
        apis: current.apis.iter().map(api_item).collect(),
        roles: current.roles.iter().map(role_item).collect(),
        ..Document::default()
    };
    let mut group_members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut group_roles: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut user_roles: HashMap<&UserId, Vec<String>> = HashMap::new();
    let mut client_roles: HashMap<&ClientId, Vec<String>> = HashMap::new();
    for link in &current.links {
        match link {
            Assignment::UserRole(user, role) => user_roles
                .entry(user)
                .or_default()
                .push(role.as_str().to_owned()),
            Assignment::ClientRole(client, role) => client_roles
                .entry(client)
                .or_default()
                .push(role.as_str().to_owned()),
            Assignment::GroupMember(group, user) => {
                if let Some(name) = current.username(user) {
                    group_members
                        .entry(group.as_str())
                        .or_default()
                        .push(name.to_owned());
                }
            }
            Assignment::GroupRole(group, role) => group_roles
                .entry(group.as_str())
                .or_default()
                .push(role.as_str().to_owned()),
        }
    }
    for group in &current.groups {
        let mut members = group_members
            .remove(group.name.as_str())
            .unwrap_or_default();
        members.sort();
        let mut roles = group_roles.remove(group.name.as_str()).unwrap_or_default();
        roles.sort();
        document.groups.push(GroupItem {
            name: group.name.as_str().to_owned(),
            members,
            roles,
        });
    }
    for client in &current.clients {
        let mut roles = client_roles.remove(&client.client_id).unwrap_or_default();
        roles.sort();
        document.clients.push(client_item(client, roles));
    }
    for user in &current.users {
        let mut roles = user_roles.remove(&user.user_id).unwrap_or_default();
        roles.sort();
        document.users.push(user_item(user, roles));
    }
    Ok(document)
}
