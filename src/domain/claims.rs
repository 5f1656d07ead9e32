//! The claims Latchkey signs: RFC 9068 access tokens, OIDC Core §2 ID tokens, and §5.1 standard claims.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::role::Authorization;
use super::scope::ScopeSet;
use super::user::User;

/// The prefix of access token `jti` values.
pub const JTI_PREFIX: &str = "at_";

/// RFC 9068 §2.2 access-token claims (plus `gid`, the grant the token belongs to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user, or the client itself for client credentials (RFC 9068 §2.2).
    pub sub: String,
    /// The resource the token is for.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Unique id (RFC 7519 §4.1.7), used to revoke this one token.
    pub jti: String,
    /// The client it was issued to (RFC 8693 §4.3).
    pub client_id: String,
    /// Granted scopes, space-delimited (RFC 8693 §4.2).
    pub scope: String,
    /// The grant this token belongs to (private claim).
    pub gid: String,
    /// When the user authenticated (RFC 9068 §2.2.1), for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// OIDC Core §2 `acr` (RFC 9068 §2.2.1): the level of that authentication, for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// RFC 8693 §4.1: the party acting for `sub`, after a token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// RFC 7800 §3.1 `cnf`: the key the token is bound to (RFC 9449 §6.1 `jkt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// RFC 9068 §2.2.3.1 `roles` (always, when any) and `groups` (with the `groups` scope).
    #[serde(flatten)]
    pub authorization: RoleClaims,
}

/// RFC 7800 §3.1 `cnf`: the proof-of-possession key of a sender-constrained token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 9449 §6.1: the SHA-256 JWK thumbprint (RFC 7638) of the DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// RFC 8705 §3.1: the base64url SHA-256 of the DER of the client's certificate.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// RFC 8693 §4.1 `act`: who acts, and — nested — who that actor acted for before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The acting party.
    pub sub: String,
    /// The previous actor in the delegation chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl AccessTokenClaims {
    /// The grant the token belongs to; its kind tells a user's token from a client's own.
    pub fn grant_id(&self) -> super::grant::GrantId {
        super::grant::GrantId::from_stored(self.gid.clone())
    }
}

/// OIDC Core §5.1 standard claims released for the granted scopes (§5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardClaims {
    /// `profile`: full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `profile`: the username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `profile`: last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl StandardClaims {
    /// OIDC Core §5.4: `profile` releases name and username, `email` the address.
    pub fn for_scopes(user: &User, scope: &ScopeSet) -> Self {
        Self::released(user, scope, &[])
    }

    /// OIDC Core §5.4, §5.5: the claims the scopes release, and those `requested` one by one with
    /// the `claims` parameter; each only when the user has it.
    pub fn released(user: &User, scope: &ScopeSet, requested: &[&str]) -> Self {
        let wants =
            |claim: &str, by_scope: &str| scope.contains(by_scope) || requested.contains(&claim);
        let mut claims = Self::default();
        if wants("name", "profile") {
            claims.name = user.name.clone();
        }
        if wants("preferred_username", "profile") {
            claims.preferred_username = Some(user.username.clone());
        }
        if wants("updated_at", "profile") {
            claims.updated_at = Some(user.updated_at);
        }
        if user.email.is_some() {
            if wants("email", "email") {
                claims.email = user.email.clone();
            }
            if wants("email_verified", "email") {
                claims.email_verified = Some(user.email_verified);
            }
        }
        claims
    }
}

/// RFC 9068 §2.2.3.1 `roles` and `groups` (SCIM Core §4.1.2 attribute names), each omitted when
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleClaims {
    /// Effective roles: the subject's own plus its groups'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The user's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl RoleClaims {
    /// An access token's: `roles` always (the resource server authorizes with them), `groups`
    /// only with the `groups` scope.
    pub fn for_access_token(authorization: &Authorization, scope: &ScopeSet) -> Self {
        Self {
            roles: names(&authorization.roles),
            groups: if scope.contains("groups") {
                names(&authorization.groups)
            } else {
                Vec::new()
            },
        }
    }

    /// An ID token's or UserInfo's (released to the client): `roles` with the `roles` scope,
    /// `groups` with the `groups` scope.
    pub fn for_scopes(authorization: &Authorization, scope: &ScopeSet) -> Self {
        Self::released(authorization, scope, &[])
    }

    /// An ID token's or UserInfo's, also with the claims `requested` one by one with the `claims`
    /// parameter (OIDC Core §5.5).
    pub fn released(authorization: &Authorization, scope: &ScopeSet, requested: &[&str]) -> Self {
        let wants = |claim: &str| scope.contains(claim) || requested.contains(&claim);
        Self {
            roles: if wants("roles") {
                names(&authorization.roles)
            } else {
                Vec::new()
            },
            groups: if wants("groups") {
                names(&authorization.groups)
            } else {
                Vec::new()
            },
        }
    }

    /// Whether the scope, or the claims requested one by one, release any of these claims to the
    /// client (so they are worth reading).
    pub fn released_by(scope: &ScopeSet, requested: &[&str]) -> bool {
        ["roles", "groups"]
            .iter()
            .any(|claim| scope.contains(claim) || requested.contains(claim))
    }
}

fn names<T: std::fmt::Display>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

/// OIDC Core §2 ID token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user authenticated.
    pub auth_time: i64,
    /// OIDC Core §2 `acr`: the level the authentication reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// OIDC Core §2 `amr` (RFC 8176 values): the methods used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The authorization request's nonce.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// OIDC Core §3.1.3.6 access token hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Authorized party (OIDC Core §2): the client.
    pub azp: String,
    /// The browser session the user signed in with (OIDC Back-Channel Logout §2.1 / Front-Channel
    /// Logout §3), so the client can match a logout token to its own session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Released profile and email claims.
    #[serde(flatten)]
    pub standard: StandardClaims,
    /// `roles` and `groups`, with the scopes of those names.
    #[serde(flatten)]
    pub authorization: RoleClaims,
}

/// OIDC Core §3.1.3.6: the base64url of the left half of the hash of the access token, using the hash
/// of the ID token's `alg` (SHA-256 for RS256/ES256; SHA-512 for EdDSA with Ed25519).
pub fn at_hash(access_token: &str, alg: &str) -> String {
    let algorithm = if alg == "EdDSA" {
        &digest::SHA512
    } else {
        &digest::SHA256
    };
    let hash = digest::digest(algorithm, access_token.as_bytes());
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // OIDC Core Appendix A.3's access token and its at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
