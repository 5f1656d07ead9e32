//! What the admin commands print, the same on the database and through a server (`--server`): owned
//! types that the admin API's answers deserialize into, and that the local path fills from the same
//! views (`crate::admin`) by the same serde round trip ([`shown`]). Each command renders its text
//! and its `--json` from one of these, so the two modes cannot drift apart.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::CliError;

/// `view` (an admin view, as the admin API serialises it) as the CLI's type `T`.
pub fn shown<T: DeserializeOwned>(view: &impl Serialize) -> Result<T, CliError> {
    serde_json::to_value(view)
        .and_then(serde_json::from_value)
        .map_err(|err| CliError::Invalid(format!("cannot show the result: {err}")))
}

/// A client: `admin::client::ClientView`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub auth_method: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub require_pkce: bool,
    pub skip_consent: bool,
    pub introspect_any: bool,
    #[allow(missing_docs)]
    pub require_par: bool,
    /// Only DPoP-bound tokens.
    #[serde(default)]
    pub require_dpop: bool,
    /// Sign-ins need two factors.
    #[serde(default)]
    pub require_mfa: bool,
    /// Certificate-bound access tokens.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2 `tls_client_auth_subject_dn`.
    #[serde(default)]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_dns`.
    #[serde(default)]
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_uri`.
    #[serde(default)]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_ip`.
    #[serde(default)]
    pub tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_email`.
    #[serde(default)]
    pub tls_client_auth_san_email: Option<String>,
    /// Its public keys, a JWK set (`private_key_jwt`).
    pub jwks: Option<serde_json::Value>,
    /// Where it publishes them instead.
    pub jwks_uri: Option<String>,
    /// Where it receives logout tokens.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// It needs `sid` in logout tokens.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    pub id_token_signed_response_alg: Option<String>,
    pub application_type: String,
    pub resources: Vec<String>,
    pub default_resource: Option<String>,
    pub api: Option<String>,
    pub may_exchange_for: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `client create`: the client, and its secret (shown once) when it is confidential.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewClient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub client: Client,
}

/// `client show`: the client with its roles.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientWithRoles {
    #[serde(flatten)]
    pub client: Client,
    pub roles: Vec<String>,
}

/// A user: `admin::user::UserView` (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `user show`: the user with their effective roles (as tokens carry them), the roles they hold
/// directly, and their groups.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserWithRoles {
    #[serde(flatten)]
    pub user: User,
    pub roles: Vec<String>,
    pub direct_roles: Vec<String>,
    pub groups: Vec<String>,
    pub second_factors: crate::admin::user::SecondFactors,
}

/// What signing a user out everywhere ended (`user set-password`, `disable`, `revoke-sessions`).
#[derive(Debug, Serialize, Deserialize)]
pub struct SignedOut {
    pub username: String,
    pub sessions: u64,
    pub grants: u64,
    pub authorization_codes: u64,
}

/// An API: `admin::api::ApiView`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Api {
    pub audience: String,
    pub name: String,
    pub access_token_ttl: Option<i64>,
    pub access_token_alg: Option<String>,
    pub token_format: String,
    pub rbac: bool,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An initial access token: `admin::registration_token::RegistrationTokenView`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegistrationToken {
    pub token_id: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub max_uses: Option<u32>,
    pub uses: u32,
}

/// `registration-token create`: the token and its value, shown once.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewRegistrationToken {
    #[serde(flatten)]
    pub token: RegistrationToken,
    pub registration_token: String,
}

/// A scope: `admin::scope::ScopeView`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub api: Option<String>,
    pub hidden: bool,
}

/// A role: `admin::role::RoleView`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    pub api: Option<String>,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub require_mfa: bool,
    pub created_at: i64,
}

/// `role show`: the role with the users, clients and groups that hold it directly.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoleWithHolders {
    #[serde(flatten)]
    pub role: Role,
    pub users: Vec<String>,
    pub clients: Vec<String>,
    pub groups: Vec<String>,
}

/// A group.
#[derive(Debug, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub created_at: i64,
}

/// `group show`: the group with its members and roles.
#[derive(Debug, Serialize, Deserialize)]
pub struct GroupWithContents {
    #[serde(flatten)]
    pub group: Group,
    pub members: Vec<String>,
    pub roles: Vec<String>,
}

/// A signing key: `admin::key::KeyView` (never a private key).
#[derive(Debug, Serialize, Deserialize)]
pub struct Key {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub published_until: Option<i64>,
}

/// An audit event: `domain::audit::AuditEvent` as stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub actor: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub detail: serde_json::Value,
}

/// What `apply` did: `admin::apply::Outcome`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Applied {
    #[serde(flatten)]
    pub plan: crate::admin::apply::Plan,
    pub applied: bool,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secrets: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    //! Every field of each admin view survives [`shown`]: a field added to a view and not here
    //! fails these tests instead of vanishing from the CLI's output.

    use serde_json::Value;

    use super::*;
    use crate::domain::alg::SigningAlg;
    use crate::domain::api::Audience;
    use crate::domain::audit::{AuditEvent, EventType};
    use crate::domain::client::{ClientId, ClientSpec};
    use crate::domain::role::RoleName;
    use crate::domain::user::UserId;
    use crate::store::{KeyState, SigningKeyRecord};

    fn same<T: DeserializeOwned + Serialize>(view: &impl Serialize) {
        let original = serde_json::to_value(view).unwrap();
        let through: T = shown(view).unwrap();
        assert_eq!(serde_json::to_value(through).unwrap(), original);
        assert!(matches!(original, Value::Object(_) | Value::Array(_)));
    }

    #[test]
    fn every_admin_view_is_shown_whole() {
        let client = crate::domain::client::Client::from_spec(
            ClientId::parse("orders").unwrap(),
            &ClientSpec {
                client_name: "Orders \"app\"".into(),
                redirect_uris: vec!["https://orders.example.com/cb".into()],
                scope: "openid".into(),
                auth_method: "client_secret_basic".into(),
                id_token_alg: Some("ES256".into()),
                ..ClientSpec::default()
            },
            10,
        )
        .unwrap();
        same::<Client>(&crate::admin::client::ClientView::from(&client));

        let user = crate::domain::user::User {
            user_id: UserId::generate(),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: None,
            password_hash: "not shown".into(),
            disabled: false,
            created_at: 1,
            updated_at: 2,
        };
        same::<User>(&crate::admin::user::UserView::from(&user));

        let audience = Audience::parse("https://orders.example.com").unwrap();
        let api = crate::domain::api::Api {
            audience: audience.clone(),
            name: "Orders".into(),
            access_token_ttl: Some(300),
            access_token_alg: Some(SigningAlg::ES256),
            token_format: "opaque".parse().unwrap(),
            rbac: true,
            created_at: 1,
            updated_at: 2,
        };
        let scope = crate::domain::scope::Scope {
            name: "orders:read".into(),
            description: "Read orders".into(),
            builtin: false,
            api: Some(audience.clone()),
            hidden: true,
            created_at: 1,
        };
        let scopes = [scope];
        same::<Api>(&crate::admin::api::view(&api, &scopes));
        same::<Scope>(&crate::admin::scope::ScopeView::from(&scopes[0]));

        let role = crate::domain::role::Role {
            name: RoleName::parse("orders:admin").unwrap(),
            description: Some("Manage orders".into()),
            api: Some(audience),
            scopes: vec!["orders:read".into()],
            require_mfa: false,
            created_at: 3,
        };
        same::<Role>(&crate::admin::role::RoleView::from(&role));

        let keys = [SigningKeyRecord {
            kid: "k1".into(),
            alg: "RS256".into(),
            state: KeyState::Retired,
            private_key: vec![1, 2, 3],
            public_jwk: "{}".into(),
            created_at: 1,
            activated_at: Some(2),
            retired_at: Some(3),
        }];
        same::<Vec<Key>>(&crate::admin::key::views(&keys, 60));

        let event = AuditEvent::new(EventType::AdminChange, 5, "cli:ops")
            .user("u1".to_owned())
            .with("object", "client");
        same::<Vec<Event>>(&vec![event]);

        let step = crate::admin::apply::Step {
            kind: "client".into(),
            id: "orders".into(),
            changes: vec!["scope".into()],
        };
        let outcome = crate::admin::apply::Outcome {
            plan: crate::admin::apply::Plan {
                create: vec![step.clone()],
                update: vec![step],
                delete: Vec::new(),
            },
            applied: true,
            secrets: [("orders".to_owned(), "lk_cs_x".to_owned())].into(),
        };
        same::<Applied>(&outcome);
    }
}
