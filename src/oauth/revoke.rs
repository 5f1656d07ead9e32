//! Token revocation (RFC 7009): a client revokes one of its own tokens. An access token is revoked by
//! its `jti`; a refresh token revokes its whole grant. Unknown or malformed tokens are a success (§2.2).

use super::Context;
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
    ctx.store
        .revoke_grant(&stored.grant_id, ctx.now, keep_until)
        .await?;
    tracing::info!(grant_id = %stored.grant_id, "grant revoked by its client");
    Ok(())
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
    }
    Ok(())
}
