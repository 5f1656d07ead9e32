//! The token endpoint's decisions (RFC 6749 §3.2): a request parsed into a [`TokenRequest`] tagged by
//! `grant_type`, checked against the authenticated client, and answered with tokens or an
//! RFC 6749 §5.2 error.

use serde::Serialize;

use super::resource::{InvalidTarget, Target, requested_resources};
use super::{Context, Params};
use crate::domain::api::TokenFormat;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::claims::{
    AccessTokenClaims, Actor, IdTokenClaims, JTI_PREFIX, RoleClaims, StandardClaims, at_hash,
};
use crate::domain::client::{Client, GrantType, TOKEN_EXCHANGE_GRANT};
use crate::domain::grant::GrantId;
use crate::domain::grant::{REFERENCE_TOKEN_PREFIX, ReferenceToken};
use crate::domain::role::Authorization;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_string, random_token};
use crate::domain::user::User;
use crate::error::{ErrorCode, OAuthError};
use crate::metrics::IssuedAs;
use crate::tokens::{sign_access_token, sign_id_token};

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod token_exchange;

/// A token request, parsed at the edge (RFC 6749 §4.1.3, §4.4.2, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// RFC 6749 §4.1.3: redeem an authorization code.
    AuthorizationCode {
        /// The code.
        code: String,
        /// Required when the authorization request carried it.
        redirect_uri: Option<String>,
        /// RFC 7636 §4.5.
        code_verifier: Option<String>,
        /// RFC 8707 §2.2: the API the access token is for (one of those authorized).
        resource: Vec<String>,
    },
    /// RFC 6749 §4.4.2: a client's own token.
    ClientCredentials {
        /// The requested scope, if any.
        scope: Option<ScopeSet>,
        /// RFC 8707 §2: the API the token is for.
        resource: Vec<String>,
    },
    /// RFC 8693 §2.1: exchange a user's access token for one for another API.
    TokenExchange {
        /// The token acted upon (a user's access token).
        subject_token: String,
        /// Its type: must be `urn:ietf:params:oauth:token-type:access_token`.
        subject_token_type: String,
        /// The acting party's access token, if sent.
        actor_token: Option<String>,
        /// Its type, required with it.
        actor_token_type: Option<String>,
        /// The narrower scope wanted, if any.
        scope: Option<ScopeSet>,
        /// The target API: `resource` (RFC 8707) or `audience` (RFC 8693 §2.1).
        resource: Vec<String>,
    },
    /// RFC 6749 §6: refresh.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrower scope, if any.
        scope: Option<ScopeSet>,
        /// RFC 8707 §2.2: the API the access token is for (one of those the grant covers).
        resource: Vec<String>,
    },
}

/// A parameter's value, with an empty value read as absent (RFC 6749 §3.1).
fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn required(params: &Params, name: &str) -> Result<String, OAuthError> {
    param(params, name)
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// RFC 6749 §3.3: `scope` is a list of scope tokens; a malformed one is `invalid_scope`.
fn scope(params: &Params) -> Result<Option<ScopeSet>, OAuthError> {
    param(params, "scope")
        .map(|raw| {
            ScopeSet::parse(raw)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))
        })
        .transpose()
}

/// RFC 8707 §2: the `resource` values (the parameter may repeat).
fn resource(params: &Params) -> Vec<String> {
    requested_resources(param(params, "resource"))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

impl TokenRequest {
    /// Parse the form by its `grant_type` (RFC 6749 §4.1.3, §4.4.2, §6; §5.2 errors).
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        match param(params, "grant_type") {
            None => Err(OAuthError::invalid_request("grant_type is required")),
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: required(params, "code")?,
                redirect_uri: param(params, "redirect_uri").map(str::to_owned),
                code_verifier: param(params, "code_verifier").map(str::to_owned),
                resource: resource(params),
            }),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: scope(params)?,
                resource: resource(params),
            }),
            Some(TOKEN_EXCHANGE_GRANT) => {
                let mut target = resource(params);
                // RFC 8693 §2.1 `audience`: a logical name of the target; here an API's audience.
                if let Some(audience) = param(params, "audience") {
                    target.push(audience.to_owned());
                }
                Ok(Self::TokenExchange {
                    subject_token: required(params, "subject_token")?,
                    subject_token_type: required(params, "subject_token_type")?,
                    actor_token: param(params, "actor_token").map(str::to_owned),
                    actor_token_type: param(params, "actor_token_type").map(str::to_owned),
                    scope: scope(params)?,
                    resource: target,
                })
            }
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: required(params, "refresh_token")?,
                scope: scope(params)?,
                resource: resource(params),
            }),
            Some(other) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {} is not supported",
                    other.chars().take(64).collect::<String>()
                ),
            )),
        }
    }

    /// The grant type this request uses.
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::TokenExchange { .. } => GrantType::TokenExchange,
        }
    }
}

/// RFC 6749 §5.1 successful token response (plus OIDC Core §3.1.3.3 `id_token`).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token (an RFC 9068 JWT).
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scope.
    pub scope: String,
    /// OIDC ID token, for `openid` requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// RFC 8693 §2.2.1 `issued_token_type`, for a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// How the access token was made (for the metrics; not sent).
    #[serde(skip)]
    pub issued_as: IssuedAs,
    /// Its `sub`, `aud` and `jti` (for the audit trail; not sent).
    #[serde(skip)]
    pub issued_to: (String, String, String),
}

/// Answer a token request from the authenticated `client`.
pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    request: TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    // RFC 6749 §5.2 unauthorized_client: the client is not registered for this grant type.
    let grant_type = request.grant_type();
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client is not registered for {}", grant_type.as_str()),
        ));
    }
    let response = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        } => {
            authorization_code::redeem(
                ctx,
                client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                &resource,
            )
            .await
        }
        TokenRequest::ClientCredentials { scope, resource } => {
            client_credentials::issue_to(ctx, client, scope, &resource).await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resource,
        } => refresh_token::rotate(ctx, client, &refresh_token, scope, &resource).await,
        TokenRequest::TokenExchange {
            subject_token,
            subject_token_type,
            actor_token,
            actor_token_type,
            scope,
            resource,
        } => {
            token_exchange::exchange(
                ctx,
                client,
                token_exchange::Exchange {
                    subject_token: &subject_token,
                    subject_token_type: &subject_token_type,
                    actor_token: actor_token.as_deref(),
                    actor_token_type: actor_token_type.as_deref(),
                    scope,
                    resource: &resource,
                },
            )
            .await
        }
    }?;
    let grant_label = match grant_type {
        GrantType::TokenExchange => "token_exchange",
        other => other.as_str(),
    };
    ctx.metrics.token_issued(grant_label, response.issued_as);
    if let Some(log) = ctx.issuance_log {
        let (subject, audience, jti) = &response.issued_to;
        let event = AuditEvent::new(
            EventType::TokenIssued,
            ctx.now,
            format!("client:{}", client.client_id),
        )
        .client(client.client_id.to_string())
        .detail(serde_json::json!({
            "grant_type": grant_label,
            "alg": response.issued_as.label(),
            "audience": audience,
            "scope": response.scope,
            "jti": jti,
        }));
        // RFC 9068 §2.2: a client-credentials token's `sub` is the client itself.
        log.record(if subject == client.client_id.as_str() {
            event
        } else {
            event.user(subject.clone())
        });
    }
    Ok(response)
}

/// What a grant produces, before signing.
pub struct Issuance<'a> {
    /// The client.
    pub client: &'a Client,
    /// `sub`: the user, or the client itself.
    pub subject: &'a str,
    /// The access token's scope (already limited to the target's API).
    pub scope: &'a ScopeSet,
    /// What the access token is for: its audience, lifetime and algorithm (RFC 8707).
    pub target: &'a Target,
    /// The grant the tokens belong to (`gid`).
    pub grant_id: &'a GrantId,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// The subject's roles and groups, read for this issuance (so changes show in the next token).
    pub authorization: &'a Authorization,
    /// The user and nonce, when an ID token may be issued (only if `openid` is in scope).
    pub id_token_for: Option<(&'a User, Option<&'a str>)>,
    /// A refresh token already stored, to hand out.
    pub refresh_token: Option<String>,
    /// RFC 8693 §4.1 `act`, after a token exchange.
    pub act: Option<Actor>,
}

impl From<InvalidTarget> for OAuthError {
    /// RFC 8707 §2 `invalid_target`.
    fn from(InvalidTarget(why): InvalidTarget) -> Self {
        OAuthError::new(ErrorCode::InvalidTarget, why)
    }
}

/// Make the access token — a signed JWT (RFC 9068), or for an API with reference tokens an opaque
/// `lk_at_` value whose claims are stored — and, for `openid`, the ID token (OIDC Core §2, §3.1.3.6
/// `at_hash`).
pub async fn issue(ctx: &Context<'_>, issuance: Issuance<'_>) -> Result<TokenResponse, OAuthError> {
    let (settings, now) = (ctx.settings, ctx.now);
    let lifetimes = &settings.lifetimes;
    let client_id = issuance.client.client_id.as_str();
    let issuer = settings.issuer.as_str();
    let target = issuance.target;
    // RFC 9068 §2.2.3.1: the global roles and those of the API the token is for.
    let catalog = ctx.catalog.get(ctx.store, now).await?;
    let for_target = Authorization {
        roles: issuance
            .authorization
            .roles
            .iter()
            .filter(|role| catalog.role_applies(role.as_str(), target.api.as_ref()))
            .cloned()
            .collect(),
        ..issuance.authorization.clone()
    };
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: issuance.subject.to_owned(),
        aud: target.audience.clone(),
        exp: now + target.lifetime,
        iat: now,
        jti: format!("{JTI_PREFIX}{}", random_string(16)),
        client_id: client_id.to_owned(),
        scope: issuance.scope.to_string(),
        gid: issuance.grant_id.to_string(),
        auth_time: issuance.auth_time,
        act: issuance.act.clone(),
        authorization: RoleClaims::for_access_token(&for_target, issuance.scope),
    };
    let access_token = match target.format {
        TokenFormat::Jwt => sign_access_token(ctx.keys, target.alg, &claims)?,
        TokenFormat::Opaque => {
            let token = random_token(REFERENCE_TOKEN_PREFIX);
            let stored_claims = serde_json::to_string(&claims).map_err(|err| {
                tracing::error!(error = %err, "cannot encode access-token claims");
                OAuthError::server_error()
            })?;
            ctx.store
                .create_reference_token(&ReferenceToken {
                    token_hash: TokenHash::of(&token),
                    jti: claims.jti.clone(),
                    client_id: issuance.client.client_id.clone(),
                    claims: stored_claims,
                    expires_at: claims.exp,
                })
                .await?;
            token
        }
    };
    // OIDC Dynamic Registration §2: the client's `id_token_signed_response_alg`, else the default.
    let id_alg = issuance
        .client
        .id_token_alg
        .unwrap_or(settings.id_token_alg);
    let id_token = match issuance.id_token_for {
        Some((user, nonce)) if issuance.scope.contains("openid") => Some(sign_id_token(
            ctx.keys,
            id_alg,
            &IdTokenClaims {
                iss: issuer.to_owned(),
                sub: issuance.subject.to_owned(),
                aud: client_id.to_owned(),
                exp: now + lifetimes.id_token,
                iat: now,
                auth_time: issuance.auth_time.unwrap_or(now),
                nonce: nonce.map(str::to_owned),
                at_hash: Some(at_hash(&access_token, id_alg.as_str())),
                azp: client_id.to_owned(),
                standard: StandardClaims::for_scopes(user, issuance.scope),
                authorization: RoleClaims::for_scopes(issuance.authorization, issuance.scope),
            },
        )?),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: target.lifetime,
        scope: issuance.scope.to_string(),
        id_token,
        refresh_token: issuance.refresh_token,
        issued_token_type: None,
        issued_as: match target.format {
            TokenFormat::Jwt => IssuedAs::Jwt(target.alg),
            TokenFormat::Opaque => IssuedAs::Reference,
        },
        issued_to: (claims.sub, claims.aud, claims.jti),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientSpec;
    use crate::domain::group::GroupName;
    use crate::domain::role::RoleName;
    use crate::oauth::testing::Harness;
    use crate::tokens::{IdTokenHint, check_id_token_hint, verify_access_token};

    /// (roles, groups) of a signed token's claims.
    fn role_claims(claims: &RoleClaims) -> (String, String) {
        (claims.roles.join(" "), claims.groups.join(" "))
    }

    #[tokio::test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    async fn issue_carries_roles_always_and_groups_and_id_token_claims_by_scope() {
        let h = Harness::new(&[]).await;
        let default_target = crate::oauth::resource::target(
            &crate::catalog::Catalog::default(),
            &h.settings,
            &[],
            &[],
        )
        .unwrap();
        let client = h
            .client(
                "dashboard",
                ClientSpec {
                    client_name: "Dashboard".into(),
                    redirect_uris: vec!["https://app.example.com/cb".into()],
                    grant_types: vec!["authorization_code".into()],
                    scope: "openid roles groups".into(),
                    auth_method: "client_secret_basic".into(),
                    ..ClientSpec::default()
                },
            )
            .await;
        let alice = h.user("alice").await;
        let authorization = Authorization {
            roles: vec![
                RoleName::parse("admin").unwrap(),
                RoleName::parse("orders:read").unwrap(),
            ],
            direct_roles: vec![RoleName::parse("admin").unwrap()],
            groups: vec![GroupName::parse("ops").unwrap()],
        };
        // (case, scope, access token (roles, groups), ID token (roles, groups))
        let cases: &[(&str, &str, (&str, &str), (&str, &str))] = &[
            (
                "RFC 9068 §2.2.3.1 roles always; no groups without the groups scope",
                "openid",
                ("admin orders:read", ""),
                ("", ""),
            ),
            (
                "the roles scope releases roles in the ID token",
                "openid roles",
                ("admin orders:read", ""),
                ("admin orders:read", ""),
            ),
            (
                "the groups scope releases groups in both tokens",
                "openid groups",
                ("admin orders:read", "ops"),
                ("", "ops"),
            ),
            (
                "both scopes release both claims",
                "openid roles groups",
                ("admin orders:read", "ops"),
                ("admin orders:read", "ops"),
            ),
        ];
        for (case, scope, access, id) in cases {
            let scope = ScopeSet::parse(scope).unwrap();
            let response = issue(
                &h.ctx(),
                Issuance {
                    client: &client,
                    subject: alice.user_id.as_str(),
                    scope: &scope,
                    grant_id: &GrantId::generate(crate::domain::grant::GrantKind::User),
                    auth_time: Some(h.now),
                    authorization: &authorization,
                    id_token_for: Some((&alice, None)),
                    refresh_token: None,
                    target: &default_target,
                    act: None,
                },
            )
            .await
            .unwrap();
            let at =
                verify_access_token(&h.keys, &h.settings, &response.access_token, h.now).unwrap();
            assert_eq!(
                role_claims(&at.authorization),
                (access.0.to_owned(), access.1.to_owned()),
                "{case}: access token"
            );
            let id_token = response.id_token.unwrap();
            let IdTokenHint::Current(claims) =
                check_id_token_hint(&h.keys, &h.settings, &id_token, h.now)
            else {
                panic!("{case}: the ID token does not verify");
            };
            assert_eq!(
                role_claims(&claims.authorization),
                (id.0.to_owned(), id.1.to_owned()),
                "{case}: ID token"
            );
        }
        // Omitted when empty: no `roles: []` in a token.
        let scope = ScopeSet::parse("openid roles groups").unwrap();
        let response = issue(
            &h.ctx(),
            Issuance {
                client: &client,
                subject: alice.user_id.as_str(),
                scope: &scope,
                grant_id: &GrantId::generate(crate::domain::grant::GrantKind::User),
                auth_time: Some(h.now),
                authorization: &Authorization::default(),
                id_token_for: Some((&alice, None)),
                refresh_token: None,
                target: &default_target,
                act: None,
            },
        )
        .await
        .unwrap();
        for token in [response.access_token, response.id_token.unwrap()] {
            let payload = token.split('.').nth(1).unwrap();
            let json = String::from_utf8(
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .unwrap(),
            )
            .unwrap();
            assert!(
                !json.contains("\"roles\":") && !json.contains("\"groups\":"),
                "{json}"
            );
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    fn token_requests_are_parsed_by_grant_type() {
        // (case, form, expected error code or None)
        let cases: &[(&str, &[(&str, &str)], Option<&str>)] = &[
            (
                "RFC 6749 §4.1.3 a code request",
                &[("grant_type", "authorization_code"), ("code", "c")],
                None,
            ),
            (
                "RFC 6749 §4.1.3 code is required",
                &[("grant_type", "authorization_code")],
                Some("invalid_request"),
            ),
            (
                "RFC 6749 §4.1.3 an empty code is absent",
                &[("grant_type", "authorization_code"), ("code", "")],
                Some("invalid_request"),
            ),
            (
                "RFC 6749 §4.4.2 client credentials",
                &[("grant_type", "client_credentials"), ("scope", "a b")],
                None,
            ),
            (
                "RFC 6749 §3.3 a malformed scope is invalid_scope",
                &[("grant_type", "client_credentials"), ("scope", "a\"b")],
                Some("invalid_scope"),
            ),
            (
                "RFC 6749 §6 refresh_token is required",
                &[("grant_type", "refresh_token")],
                Some("invalid_request"),
            ),
            (
                "RFC 6749 §6 a refresh request",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "lk_rt_x"),
                ],
                None,
            ),
            (
                "RFC 6749 §5.2 grant_type is required",
                &[],
                Some("invalid_request"),
            ),
            (
                "RFC 6749 §5.2 an unknown grant type",
                &[("grant_type", "password")],
                Some("unsupported_grant_type"),
            ),
        ];
        for (case, form, expected) in cases {
            let parsed = TokenRequest::parse(&params(form));
            assert_eq!(
                parsed.as_ref().err().map(|e| e.code.as_str()),
                *expected,
                "{case}: {parsed:?}"
            );
        }
        assert_eq!(
            TokenRequest::parse(&params(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "t"),
                ("scope", "b a")
            ]))
            .unwrap(),
            TokenRequest::RefreshToken {
                refresh_token: "t".into(),
                scope: Some(ScopeSet::parse("a b").unwrap()),
                resource: Vec::new(),
            }
        );
    }
}
