//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! Every use spends the token and hands out a new one. A spent token presented again revokes the
//! whole grant, unless it comes back within the grace window after its rotation and its successor
//! was never used: then the successor is retired and a new token issued in its place, so a client
//! that retried after a lost response keeps its session and there is still exactly one live token.
//! However often a grant is refreshed, its tokens end `--refresh-token-absolute-ttl` after the
//! authorization.

use serde_json::json;

use super::{Issuance, TokenResponse, issue};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType, InTransaction};
use crate::domain::client::Client;
use crate::domain::grant::{NewRefreshToken, REFRESH_TOKEN_PREFIX, RefreshTokenState, Rotation};
use crate::domain::role::Authorization;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_token};
use crate::domain::user::UserId;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::resource::{entitled_scope, scope_for, target};
use crate::oauth::{Context, active_user};

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// RFC 6749 §6: may this client use this stored refresh token now, and with what scope? Pure.
pub fn check_refresh(
    token: &RefreshTokenState,
    client: &Client,
    requested: Option<ScopeSet>,
    absolute_ttl: i64,
    now: i64,
) -> Result<ScopeSet, OAuthError> {
    // RFC 6749 §6: the token must have been issued to the authenticated client.
    if token.client_id != client.client_id {
        return Err(invalid());
    }
    if token.grant_revoked
        || token.expires_at <= now
        || token.grant_created_at.saturating_add(absolute_ttl) <= now
    {
        return Err(invalid());
    }
    // RFC 6749 §6: the scope may be narrowed, never widened.
    match requested {
        Some(requested) => {
            requested.ensure_within(&token.scope).map_err(|_| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds the scope originally granted",
                )
            })?;
            Ok(requested)
        }
        None => Ok(token.scope.clone()),
    }
}

/// Rotate the presented refresh token and issue fresh tokens.
pub async fn rotate(
    ctx: &Context<'_>,
    client: &Client,
    presented: &str,
    requested: Option<ScopeSet>,
    resource: &[String],
    binding: &super::Binding,
) -> Result<TokenResponse, OAuthError> {
    let (now, lifetimes) = (ctx.now, &ctx.settings.lifetimes);
    let hash = TokenHash::of(presented);
    let token = ctx
        .store
        .find_refresh_token(&hash)
        .await?
        .ok_or_else(invalid)?;
    let scope = check_refresh(
        &token,
        client,
        requested,
        lifetimes.refresh_token_absolute,
        now,
    )?;
    // RFC 9449 §5: a public client's refresh token bound to a DPoP key needs a proof of that key.
    binding.check_dpop_key(token.dpop_jkt.as_deref())?;
    binding.check_certificate(token.cert_thumbprint.as_deref())?;
    // RFC 8707 §2.2: a refresh may mint an access token for any API its grant covers, one per token.
    let catalog = ctx.catalog.get(ctx.store, now).await?;
    let requested_resource: Vec<&str> = resource.iter().map(String::as_str).collect();
    let target = target(
        &catalog,
        ctx.settings,
        &token.resources,
        &requested_resource,
    )?;
    let token_scope = scope_for(&catalog, &target, &scope);
    // A refresh token bound to a user stops working when the user is disabled or deleted.
    let user = match &token.user_id {
        Some(user_id) => Some(
            active_user(ctx.store, user_id)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?,
        ),
        None => None,
    };

    let new_token = random_token(REFRESH_TOKEN_PREFIX);
    let next = NewRefreshToken {
        token_hash: TokenHash::of(&new_token),
        grant_id: token.grant_id.clone(),
        scope: token.scope.clone(),
        created_at: now,
        expires_at: lifetimes.refresh_token_expiry(token.grant_created_at, now),
    };
    let grace_since = if lifetimes.refresh_token_grace > 0 {
        now - lifetimes.refresh_token_grace
    } else {
        i64::MAX
    };
    let keep_until = now + lifetimes.revocation_retention();
    let grant_id = token.grant_id.clone();
    let event = |event_type| {
        let event = AuditEvent::new(event_type, now, format!("client:{}", client.client_id))
            .client(client.client_id.to_string())
            .detail(json!({ "grant_id": grant_id.as_str() }));
        match &token.user_id {
            Some(user_id) => event.user(user_id.to_string()),
            None => event,
        }
    };
    // Each event commits with what it records: the new refresh token, or the grant's revocation.
    let (rotated, reused) = (
        event(EventType::RefreshTokenRotated),
        event(EventType::RefreshTokenReused),
    );
    let rotation = ctx
        .store
        .rotate_refresh_token(
            &hash,
            &next,
            now,
            grace_since,
            keep_until,
            InTransaction {
                done: Some(&rotated),
                misuse: Some(&reused),
            },
        )
        .await?;
    match rotation {
        Rotation::Rotated | Rotation::Reissued => audit::log(&rotated),
        Rotation::Reused => {
            ctx.revocations.record(grant_id.as_str(), keep_until);
            tracing::warn!(%grant_id, "spent refresh token presented again; grant revoked");
            audit::log(&reused);
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of this grant is now revoked",
            ));
        }
        Rotation::Refused => return Err(invalid()),
    }
    // RFC 9068 §2.2.3.1: roles and groups as they are now, not as when the grant began.
    let authorization = match &token.user_id {
        Some(user_id) => ctx.store.find_authorization(user_id).await?,
        None => Authorization::of_client(
            ctx.clients
                .roles(ctx.store, &token.client_id, ctx.now)
                .await?
                .as_ref()
                .clone(),
        ),
    };
    // Role-based scopes, by the roles held now.
    let token_scope = entitled_scope(&catalog, &token_scope, &authorization.roles)
        .map_err(|why| OAuthError::new(ErrorCode::InvalidScope, why))?;
    issue(
        ctx,
        Issuance {
            client,
            subject: token
                .user_id
                .as_ref()
                .map_or(token.client_id.as_str(), UserId::as_str),
            scope: &token_scope,
            target: &target,
            grant_id: &grant_id,
            auth_time: token.auth_time,
            authentication: token.authentication.as_ref(),
            inherited_acr: None,
            sid: token.sid.as_deref(),
            requested_claims: token.requested_claims.as_ref(),
            authorization: &authorization,
            id_token_for: user.as_ref().map(|u| (u, None)),
            refresh_token: Some(new_token),
            act: None,
            dpop_jkt: binding.dpop_jkt(),
            cert_thumbprint: binding.certificate_for(client),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{ClientId, ClientSpec};
    use crate::domain::grant::GrantId;

    const NOW: i64 = 1_700_000_000;
    const DAY: i64 = 86_400;

    fn client(id: &str) -> Client {
        Client::from_spec(
            ClientId::parse(id).unwrap(),
            &ClientSpec {
                client_name: "Dashboard".into(),
                redirect_uris: vec!["https://app.example.com/cb".into()],
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                scope: "openid profile".into(),
                auth_method: "client_secret_basic".into(),
                ..ClientSpec::default()
            },
            0,
        )
        .unwrap()
    }

    fn token() -> RefreshTokenState {
        RefreshTokenState {
            cert_thumbprint: None,
            dpop_jkt: None,
            sid: None,
            grant_id: GrantId::from_stored("gr_x".into()),
            client_id: ClientId::parse("dash").unwrap(),
            user_id: Some(UserId::from_stored("u".into())),
            scope: ScopeSet::parse("openid profile").unwrap(),
            resources: Vec::new(),
            auth_time: Some(NOW - 10 * DAY),
            authentication: Some(crate::domain::authn::Authentication::password()),
            requested_claims: None,
            created_at: NOW - DAY,
            expires_at: NOW + 29 * DAY,
            rotated_at: None,
            grant_revoked: false,
            grant_created_at: NOW - 10 * DAY,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    fn refresh_rules() {
        let scope = |s: &str| Some(ScopeSet::parse(s).unwrap());
        let revoked = RefreshTokenState {
            grant_revoked: true,
            ..token()
        };
        let expired = RefreshTokenState {
            expires_at: NOW,
            ..token()
        };
        let old_grant = RefreshTokenState {
            grant_created_at: NOW - 90 * DAY,
            ..token()
        };
        // (case, token, client id, requested scope, expected error)
        let cases: Vec<(
            &str,
            RefreshTokenState,
            &str,
            Option<ScopeSet>,
            Option<&str>,
        )> = vec![
            ("RFC 6749 §6 a live token", token(), "dash", None, None),
            (
                "RFC 6749 §6 narrowing the scope",
                token(),
                "dash",
                scope("openid"),
                None,
            ),
            (
                "RFC 6749 §6 never widening it",
                token(),
                "dash",
                scope("openid email"),
                Some("invalid_scope"),
            ),
            (
                "RFC 6749 §6 another client's token",
                token(),
                "other",
                None,
                Some("invalid_grant"),
            ),
            (
                "RFC 7009 §2.1 a revoked grant",
                revoked,
                "dash",
                None,
                Some("invalid_grant"),
            ),
            (
                "an expired token",
                expired,
                "dash",
                None,
                Some("invalid_grant"),
            ),
            (
                "RFC 9700 §4.14.2 past the absolute lifetime",
                old_grant,
                "dash",
                None,
                Some("invalid_grant"),
            ),
        ];
        for (case, stored, client_id, requested, expected) in cases {
            let result = check_refresh(&stored, &client(client_id), requested, 90 * DAY, NOW);
            assert_eq!(
                result.as_ref().err().map(|e| e.code.as_str()),
                expected,
                "{case}: {result:?}"
            );
        }
    }
}
