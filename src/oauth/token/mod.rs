//! The token endpoint's decisions (RFC 6749 §3.2): a request parsed into a [`TokenRequest`] tagged by
//! `grant_type`, checked against the authenticated client, and answered with tokens or an
//! RFC 6749 §5.2 error.

use super::resource::requested_resources;
use super::{Context, Params};
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::client::{Client, GrantType, TOKEN_EXCHANGE_GRANT};
use crate::domain::device::DEVICE_CODE_GRANT;
use crate::domain::scope::ScopeSet;
use crate::error::{ErrorCode, OAuthError};

pub mod authorization_code;
mod binding;
pub mod client_credentials;
pub mod device_code;
mod issue;
pub mod refresh_token;
pub mod token_exchange;

pub use binding::Binding;
pub use issue::{Issuance, IssuedTo, TokenResponse, issue};

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
    /// RFC 8628 §3.4: a device polls for the tokens of a device authorization.
    DeviceCode {
        /// The device code from the device authorization response.
        device_code: String,
        /// RFC 8707 §2.2: the API the access token is for (one of those authorized).
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
            Some(DEVICE_CODE_GRANT) => Ok(Self::DeviceCode {
                device_code: required(params, "device_code")?,
                resource: resource(params),
            }),
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
            Self::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

/// Answer a token request from the authenticated `client`.
pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    request: TokenRequest,
    binding: &Binding,
) -> Result<TokenResponse, OAuthError> {
    binding.check_client(client)?;
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
                binding,
            )
            .await
        }
        TokenRequest::ClientCredentials { scope, resource } => {
            client_credentials::issue_to(ctx, client, scope, &resource, binding).await
        }
        TokenRequest::DeviceCode {
            device_code,
            resource,
        } => device_code::redeem(ctx, client, &device_code, &resource, binding).await,
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            resource,
        } => refresh_token::rotate(ctx, client, &refresh_token, scope, &resource, binding).await,
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
                binding,
            )
            .await
        }
    }?;
    let grant_label = match grant_type {
        GrantType::TokenExchange => "token_exchange",
        GrantType::DeviceCode => "device_code",
        other => other.as_str(),
    };
    ctx.metrics.token_issued(grant_label, response.issued_as);
    if let Some(log) = ctx.issuance_log {
        let IssuedTo {
            subject,
            audience,
            jti,
        } = &response.issued_to;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claims::RoleClaims;
    use crate::domain::client::ClientSpec;
    use crate::domain::grant::GrantId;
    use crate::domain::group::GroupName;
    use crate::domain::role::Authorization;
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
                    cert_thumbprint: None,
                    dpop_jkt: None,
                    sid: None,
                    requested_claims: None,
                    client: &client,
                    subject: alice.user_id.as_str(),
                    scope: &scope,
                    grant_id: &GrantId::generate(crate::domain::grant::GrantKind::User),
                    auth_time: Some(h.now),
                    authentication: None,
                    inherited_acr: None,
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
                cert_thumbprint: None,
                dpop_jkt: None,
                sid: None,
                requested_claims: None,
                client: &client,
                subject: alice.user_id.as_str(),
                scope: &scope,
                grant_id: &GrantId::generate(crate::domain::grant::GrantKind::User),
                auth_time: Some(h.now),
                authentication: None,
                inherited_acr: None,
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
                "RFC 8628 §3.4 a device code request",
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", "lk_dc_x"),
                ],
                None,
            ),
            (
                "RFC 8628 §3.4 device_code is required",
                &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")],
                Some("invalid_request"),
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
