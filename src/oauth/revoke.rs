//! Token revocation (RFC 7009): a client revokes one of its own tokens. An access token is revoked by
//! its `jti`; a refresh token revokes its whole grant. Unknown or malformed tokens are a success (§2.2).

use serde_json::json;

use super::Context;
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType, InTransaction};
use crate::domain::client::Client;
use crate::domain::grant::{REFERENCE_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::domain::secret::TokenHash;
use crate::error::{ErrorCode, OAuthError};
use crate::tokens::verify_access_token_signature;

/// RFC 7009 §2.1: the token must have been issued to the client asking.
fn not_yours() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
}

/// RFC 7009 §2.1: revoke `token` for `client`. `token_type_hint` is only a hint: the token's own form
/// (`lk_rt_` or a JWT) tells the two kinds apart exactly.
pub async fn revoke(ctx: &Context<'_>, client: &Client, token: &str) -> Result<(), OAuthError> {
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        revoke_refresh_token(ctx, client, token).await
    } else if token.starts_with(REFERENCE_TOKEN_PREFIX) {
        revoke_reference_token(ctx, client, token).await
    } else {
        revoke_access_token(ctx, client, token).await
    }
}

async fn revoke_refresh_token(
    ctx: &Context<'_>,
    client: &Client,
    token: &str,
) -> Result<(), OAuthError> {
    let Some(stored) = ctx.store.find_refresh_token(&TokenHash::of(token)).await? else {
        return Ok(());
    };
    if stored.client_id != client.client_id {
        return Err(not_yours());
    }
    // RFC 7009 §2.1: revoking a refresh token revokes the grant and its access tokens.
    let keep_until = ctx.now + ctx.settings.lifetimes.revocation_retention();
    let event = revoked(
        ctx,
        client,
        "refresh_token",
        json!(stored.grant_id.as_str()),
        None,
    );
    let event = match &stored.user_id {
        Some(user_id) => event.user(user_id.to_string()),
        None => event,
    };
    // The revocation and its audit event commit together.
    ctx.store
        .revoke_grant(
            &stored.grant_id,
            ctx.now,
            keep_until,
            InTransaction::done(&event),
        )
        .await?;
    ctx.revocations.record(stored.grant_id.as_str(), keep_until);
    tracing::info!(grant_id = %stored.grant_id, "grant revoked by its client");
    audit::log(&event);
    Ok(())
}

/// The audit event of a revocation by `client`: which kind of token, the grant (a refresh token)
/// or the token's `jti` (an access token): identifiers, never the token.
fn revoked(
    ctx: &Context<'_>,
    client: &Client,
    kind: &str,
    grant_id: serde_json::Value,
    jti: Option<&str>,
) -> AuditEvent {
    AuditEvent::new(
        EventType::TokenRevoked,
        ctx.now,
        format!("client:{}", client.client_id),
    )
    .client(client.client_id.to_string())
    .detail(json!({ "token_kind": kind, "grant_id": grant_id, "jti": jti }))
}

/// A reference access token is revoked by its `jti`, like a JWT: introspection refuses it at once.
async fn revoke_reference_token(
    ctx: &Context<'_>,
    client: &Client,
    token: &str,
) -> Result<(), OAuthError> {
    let Some(stored) = ctx
        .store
        .find_reference_token(&TokenHash::of(token))
        .await?
    else {
        return Ok(());
    };
    if stored.client_id != client.client_id {
        return Err(not_yours());
    }
    if stored.expires_at > ctx.now {
        ctx.store
            .revoke_access_token(&stored.jti, stored.expires_at)
            .await?;
        ctx.revocations.record(&stored.jti, stored.expires_at);
        let event = revoked(
            ctx,
            client,
            "reference_token",
            json!(null),
            Some(&stored.jti),
        );
        audit::record_or_log(ctx.store, event).await;
    }
    Ok(())
}

async fn revoke_access_token(
    ctx: &Context<'_>,
    client: &Client,
    token: &str,
) -> Result<(), OAuthError> {
    let Ok(claims) = verify_access_token_signature(ctx.keys, ctx.settings, token) else {
        return Ok(());
    };
    if claims.client_id != client.client_id.as_str() {
        return Err(not_yours());
    }
    if claims.exp > ctx.now {
        ctx.store
            .revoke_access_token(&claims.jti, claims.exp)
            .await?;
        ctx.revocations.record(&claims.jti, claims.exp);
        let event = revoked(
            ctx,
            client,
            "access_token",
            json!(claims.gid),
            Some(&claims.jti),
        );
        // RFC 9068 §2.2: a client-credentials token's `sub` is the client, not a user.
        let event = if claims.sub == claims.client_id {
            event
        } else {
            event.user(claims.sub.clone())
        };
        audit::record_or_log(ctx.store, event).await;
    }
    Ok(())
}
