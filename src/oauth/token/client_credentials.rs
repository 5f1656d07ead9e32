//! `grant_type=client_credentials` (RFC 6749 §4.4): a service's own token, `sub` = its client id.
//!
//! The hot path of a microservice system, so it does no store write: the grant is not recorded
//! (its id is minted into the token's `gid`, marked as a client-credentials grant), and revoking such
//! a token writes a revocation record keyed by `jti` or `gid` that introspection checks. Client
//! authentication already cost one read (usually cached) and a SHA-256; the client's roles cost one
//! more (read at every issuance, so a role change shows in the next token).

use super::{Issuance, TokenResponse, issue};
use crate::domain::client::Client;
use crate::domain::grant::{GrantId, GrantKind};
use crate::domain::role::Authorization;
use crate::domain::scope::ScopeSet;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::Context;
use crate::oauth::resource::{InvalidTarget, entitled_scope, resources_for, scope_for, target};

/// Scopes that mean nothing without a user and are never part of a default client-credentials scope.
const USER_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "roles",
    "groups",
];

/// RFC 6749 §3.3, §4.4.2: the scope of a client-credentials token: what was requested, within the
/// client's allowed scopes; when none was requested, the client's service scopes.
pub fn granted_scope(client: &Client, requested: Option<ScopeSet>) -> Result<ScopeSet, OAuthError> {
    match requested {
        Some(requested) => {
            requested.ensure_within(&client.scopes).map_err(|extra| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("the client may not request: {}", extra.0),
                )
            })?;
            Ok(requested)
        }
        None => Ok(client
            .scopes
            .iter()
            .filter(|s| !USER_SCOPES.contains(s))
            .map(str::to_owned)
            .collect()),
    }
}

/// Issue an access token to the authenticated `client` for itself, for the API named by `resource`
/// or inferred from the scope (RFC 8707 §2).
pub async fn issue_to(
    ctx: &Context<'_>,
    client: &Client,
    requested: Option<ScopeSet>,
    resource: &[String],
    binding: &super::Binding,
) -> Result<TokenResponse, OAuthError> {
    // RFC 6749 §4.4: confidential clients only.
    if !client.auth_method.is_confidential() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "a public client cannot use client_credentials",
        ));
    }
    let scope_named = requested.is_some();
    let scope = granted_scope(client, requested)?;
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    let requested_resource: Vec<&str> = resource.iter().map(String::as_str).collect();
    // RFC 6749 §3.3 lets the server pick the scope a request leaves out; with a `resource` (RFC 8707
    // §2) that default is the client's scopes of that API (and of none), not every API's.
    let scope = if scope_named || requested_resource.is_empty() {
        scope
    } else {
        scope
            .iter()
            .filter(|name| {
                catalog
                    .api_of_scope(name)
                    .is_none_or(|api| requested_resource.contains(&api.as_str()))
            })
            .map(str::to_owned)
            .collect()
    };
    if requested_resource.len() > 1 {
        return Err(InvalidTarget(
            "an access token is for one resource: send resource once".into(),
        )
        .into());
    }
    let resources = resources_for(&catalog, client, &requested_resource, &scope)?;
    let target = target(&catalog, ctx.settings, &resources, &[])?;
    let scope = scope_for(&catalog, &target, &scope);
    // The client's roles, through the client cache: as current as the registration itself.
    let roles = ctx
        .clients
        .roles(ctx.store, &client.client_id, ctx.now)
        .await?;
    let authorization = Authorization::of_client(roles.as_ref().clone());
    // Role-based scopes: only what the client's roles grant of an `--rbac` API.
    let scope = entitled_scope(&catalog, &scope, &authorization.roles)
        .map_err(|why| OAuthError::new(ErrorCode::InvalidScope, why))?;
    issue(
        ctx,
        Issuance {
            client,
            subject: client.client_id.as_str(),
            scope: &scope,
            target: &target,
            grant_id: &GrantId::generate(GrantKind::ClientCredentials),
            auth_time: None,
            authentication: None,
            inherited_acr: None,
            sid: None,
            requested_claims: None,
            authorization: &authorization,
            id_token_for: None,
            refresh_token: None,
            act: None,
            dpop_jkt: binding.dpop_jkt(),
            cert_thumbprint: binding.certificate_for(client),
        },
    )
    .await
}
