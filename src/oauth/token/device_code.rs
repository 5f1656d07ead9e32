//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4, §3.5): the device
//! polls until the user has decided; after approval it gets the tokens, exactly once.

use serde_json::json;

use super::{Issuance, TokenResponse, issue};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType, InTransaction};
use crate::domain::client::{Client, GrantType};
use crate::domain::device::{DevicePoll, DeviceStatus};
use crate::domain::grant::{
    Grant, GrantId, GrantKind, NewRefreshToken, REFRESH_TOKEN_PREFIX, Redemption,
};
use crate::domain::secret::{TokenHash, random_token};
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::resource::{scope_for, target};
use crate::oauth::{Context, active_user};

/// RFC 8628 §3.5: what a counted poll answers when it does not redeem: `Ok(())` to go on and
/// redeem (approved, in time), else the error for the device. A pure decision.
pub fn check_poll(poll: &DevicePoll, now: i64) -> Result<(), OAuthError> {
    let request = &poll.request;
    if request.status == DeviceStatus::Redeemed {
        return Err(OAuthError::invalid_grant(
            "the device code has already been used",
        ));
    }
    if request.expires_at <= now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired: start a new device authorization",
        ));
    }
    match request.status {
        DeviceStatus::Denied => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user denied the request",
        )),
        DeviceStatus::Pending if poll.too_fast => Err(OAuthError::new(
            ErrorCode::SlowDown,
            format!(
                "polling too often: wait {} seconds between requests",
                request.interval
            ),
        )),
        DeviceStatus::Pending => Err(OAuthError::new(
            ErrorCode::AuthorizationPending,
            "the user has not yet approved the request",
        )),
        DeviceStatus::Approved | DeviceStatus::Redeemed => Ok(()),
    }
}

/// RFC 8628 §3.4: redeem `device_code` for `client`. Every poll is counted in the store first
/// (growing the interval of one that comes too soon, §3.5); an approved request is then consumed
/// atomically, so of any number of concurrent polls exactly one gets the tokens.
pub async fn redeem(
    ctx: &Context<'_>,
    client: &Client,
    device_code: &str,
    resource: &[String],
    binding: &super::Binding,
) -> Result<TokenResponse, OAuthError> {
    let (now, lifetimes) = (ctx.now, &ctx.settings.lifetimes);
    let hash = TokenHash::of(device_code);
    // Bound to the client in the statement itself: another client's device code is unknown.
    let poll = ctx
        .store
        .poll_device_authorization(&hash, &client.client_id, now)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the device code is invalid"))?;
    check_poll(&poll, now)?;
    let request = poll.request;
    let (Some(user_id), Some(auth_time)) = (request.user_id.clone(), request.auth_time) else {
        return Err(OAuthError::invalid_grant("the device code is invalid"));
    };
    // RFC 8707 §2.2: the token is for one of the APIs the authorization covered.
    let catalog = ctx.catalog.get(ctx.store, now).await?;
    let requested: Vec<&str> = resource.iter().map(String::as_str).collect();
    let target = target(&catalog, ctx.settings, &request.resources, &requested)?;
    let token_scope = scope_for(&catalog, &target, &request.scope);
    let user = active_user(ctx.store, &user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?;

    let grant_id = GrantId::generate(GrantKind::User);
    let refresh_token = client
        .allows_grant(GrantType::RefreshToken)
        .then(|| random_token(REFRESH_TOKEN_PREFIX));
    let new_refresh = refresh_token.as_ref().map(|token| NewRefreshToken {
        token_hash: TokenHash::of(token),
        grant_id: grant_id.clone(),
        scope: request.scope.clone(),
        created_at: now,
        expires_at: lifetimes.refresh_token_expiry(now, now),
    });
    let grant = Grant {
        grant_id: grant_id.clone(),
        client_id: client.client_id.clone(),
        user_id: Some(user_id.clone()),
        scope: request.scope.clone(),
        resources: request.resources.clone(),
        auth_time: Some(auth_time),
        authentication: request.authentication.clone(),
        requested_claims: None,
        // The device is not a browser session of the user's: nothing to end with one.
        sid: None,
        // RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key.
        dpop_jkt: binding.refresh_dpop_jkt(client),
        cert_thumbprint: binding.refresh_certificate(client),
        created_at: now,
        expires_at: new_refresh
            .as_ref()
            .map_or(now + lifetimes.access_token, |r| r.expires_at),
        revoked_at: None,
    };
    // The grant and its audit event commit together with the consume.
    let created = AuditEvent::new(
        EventType::GrantCreated,
        now,
        format!("client:{}", client.client_id),
    )
    .user(user_id.to_string())
    .client(client.client_id.to_string())
    .detail(json!({
        "grant_id": grant_id.as_str(),
        "grant_type": "device_code",
        "scope": request.scope.to_string(),
    }));
    let redemption = ctx
        .store
        .redeem_device_authorization(
            &hash,
            &grant,
            new_refresh.as_ref(),
            InTransaction::done(&created),
        )
        .await?;
    if redemption == Redemption::AlreadyUsed {
        return Err(OAuthError::invalid_grant(
            "the device code has already been used",
        ));
    }
    audit::log(&created);
    // RFC 9068 §2.2.3.1: the user's roles and groups now, in one read.
    let authorization = ctx.store.find_authorization(&user_id).await?;
    issue(
        ctx,
        Issuance {
            client,
            subject: user_id.as_str(),
            scope: &token_scope,
            target: &target,
            grant_id: &grant_id,
            auth_time: Some(auth_time),
            authentication: request.authentication.as_ref(),
            inherited_acr: None,
            sid: None,
            requested_claims: None,
            authorization: &authorization,
            // OIDC Core §3.1.3.6 via RFC 8628 §3.5: an ID token when `openid` was asked; there is
            // no nonce in a device request.
            id_token_for: Some((&user, None)),
            refresh_token,
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
    use crate::domain::client::ClientId;
    use crate::domain::device::DeviceAuthorization;
    use crate::domain::scope::ScopeSet;
    use crate::domain::user::UserId;

    const NOW: i64 = 1_700_000_000;

    fn poll(status: DeviceStatus, too_fast: bool) -> DevicePoll {
        DevicePoll {
            request: DeviceAuthorization {
                device_code_hash: TokenHash::of("lk_dc_x"),
                user_code_hash: TokenHash::of("BCDFGHJK"),
                client_id: ClientId::parse("tv").unwrap(),
                scope: ScopeSet::parse("openid").unwrap(),
                resources: Vec::new(),
                device_address: "192.0.2.1".into(),
                created_at: NOW,
                expires_at: NOW + 600,
                interval: if too_fast { 10 } else { 5 },
                status,
                user_id: Some(UserId::from_stored("u".into())),
                auth_time: Some(NOW),
                authentication: Some(crate::domain::authn::Authentication::password()),
            },
            too_fast,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    fn what_a_poll_answers() {
        use DeviceStatus::*;
        // (case, status, too fast, now, expected error or None to redeem)
        let cases: &[(&str, DeviceStatus, bool, i64, Option<&str>)] = &[
            (
                "RFC 8628 §3.5 authorization_pending",
                Pending,
                false,
                NOW,
                Some("authorization_pending"),
            ),
            (
                "RFC 8628 §3.5 slow_down when polled too soon",
                Pending,
                true,
                NOW,
                Some("slow_down"),
            ),
            (
                "RFC 8628 §3.5 access_denied",
                Denied,
                false,
                NOW,
                Some("access_denied"),
            ),
            (
                "RFC 8628 §3.5 expired_token",
                Pending,
                false,
                NOW + 600,
                Some("expired_token"),
            ),
            (
                "RFC 8628 §3.5 an approved but expired request is expired_token",
                Approved,
                false,
                NOW + 600,
                Some("expired_token"),
            ),
            (
                "RFC 8628 §3.5 approved: the tokens",
                Approved,
                false,
                NOW,
                None,
            ),
            (
                "RFC 8628 §3.5 approved, even polled too soon: the tokens",
                Approved,
                true,
                NOW,
                None,
            ),
            (
                "RFC 6749 §5.2 a spent device code is invalid_grant",
                Redeemed,
                false,
                NOW,
                Some("invalid_grant"),
            ),
        ];
        for (case, status, too_fast, now, expected) in cases {
            let result = check_poll(&poll(*status, *too_fast), *now);
            assert_eq!(
                result.as_ref().err().map(|e| e.code.as_str()),
                *expected,
                "{case}: {result:?}"
            );
        }
    }
}
