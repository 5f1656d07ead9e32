//! Token introspection (RFC 7662): is this token valid now, and what does it carry?
//!
//! Only authenticated confidential clients may ask. A client learns about its own tokens; a client
//! registered as a resource server (`--introspect-any`) about any token. Anything not valid now —
//! expired, revoked, malformed, forged, unknown, someone else's, of a deleted client or of a user who
//! is no longer active — is `{"active": false}`.

use serde_json::{Value, json};

use super::{Context, active_user};
use crate::domain::claims::AccessTokenClaims;
use crate::domain::client::{Client, ClientId};
use crate::domain::grant::{GrantKind, REFERENCE_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::domain::secret::TokenHash;
use crate::domain::user::{User, UserId};
use crate::error::OAuthError;
use crate::store::StoreError;
use crate::tokens::verify_access_token;

/// RFC 7662 §2.2: the introspection answer for `token`, asked by `caller`.
pub async fn introspect(
    ctx: &Context<'_>,
    caller: &Client,
    token: &str,
) -> Result<Value, OAuthError> {
    // RFC 7662 §2.1: the caller must be authorized; a public client holds no credential to show.
    if !caller.auth_method.is_confidential() {
        return Err(OAuthError::invalid_client(
            "public clients cannot use introspection",
        ));
    }
    // `token_type_hint` (RFC 7662 §2.1) is not needed: the two kinds are told apart exactly by form.
    let active = if token.starts_with(REFRESH_TOKEN_PREFIX) {
        refresh_token(ctx, caller, token).await?
    } else {
        access_token(ctx, caller, token).await?
    };
    Ok(active.unwrap_or_else(|| json!({ "active": false })))
}

/// RFC 7662 §2.1, §4: who may learn about a token — its own client, a client registered with
/// `--introspect-any`, and, for an access token, the resource server of the API it is for
/// (`client create --api`). Anyone else learns only `active: false`.
fn may_see(caller: &Client, token_client_id: &str, audience: Option<&str>) -> bool {
    caller.introspect_any
        || caller.client_id.as_str() == token_client_id
        || audience.is_some_and(|aud| caller.api.as_ref().is_some_and(|api| api.as_str() == aud))
}

/// The claims of an access token we issued and that has not expired: a JWT's, checked against our
/// keys, or a reference token's, as stored.
pub async fn access_token_claims(
    ctx: &Context<'_>,
    token: &str,
) -> Result<Option<AccessTokenClaims>, StoreError> {
    if token.starts_with(REFERENCE_TOKEN_PREFIX) {
        let Some(stored) = ctx
            .store
            .find_reference_token(&TokenHash::of(token))
            .await?
        else {
            return Ok(None);
        };
        if stored.expires_at <= ctx.now {
            return Ok(None);
        }
        return Ok(serde_json::from_str(&stored.claims).ok());
    }
    Ok(verify_access_token(ctx.keys, ctx.settings, token, ctx.now).ok())
}

/// A verified JWT access token presented to a resource of this server (RFC 6750): the token from
/// its signature check, or `invalid_token` saying why not (RFC 6750 §3.1).
pub fn verified_bearer(
    ctx: &Context<'_>,
    token: &str,
) -> Result<crate::domain::claims::AccessTokenClaims, OAuthError> {
    crate::tokens::verify_access_token(ctx.keys, ctx.settings, token, ctx.now).map_err(|why| {
        match why {
            crate::tokens::TokenRejected::Expired => {
                OAuthError::invalid_token("the access token has expired")
            }
            crate::tokens::TokenRejected::Invalid => {
                OAuthError::invalid_token("the access token is invalid")
            }
        }
    })
}

/// Where "has this access token been revoked?" is answered (RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationCheck {
    /// A JWT's from the revocation cache, without a store round trip while it is current (a
    /// revocation made on another instance counts within a second); a reference token's from the
    /// store, which was just read for the token anyway. Introspection and UserInfo.
    Cached,
    /// From the store, always: where a token is traded for power (a new token by RFC 8693
    /// exchange, the admin API), so that a token revoked a moment ago on another instance is never
    /// turned into a fresh token its revocation does not cover.
    Store,
}

/// The rest of "this access token still works" once its signature and expiry hold: not revoked
/// (itself or its grant, asked as `check` says), and its client still registered; else
/// `invalid_token`. `token` is the token as presented (a JWT, or a reference token whose stored
/// claims `claims` are).
pub async fn still_live(
    ctx: &Context<'_>,
    token: &str,
    claims: &crate::domain::claims::AccessTokenClaims,
    check: RevocationCheck,
) -> Result<(), OAuthError> {
    if is_revoked(ctx, token, &claims.jti, &claims.grant_id(), check).await? {
        return Err(OAuthError::invalid_token(
            "the access token has been revoked",
        ));
    }
    if !client_still_registered(ctx, &claims.client_id).await? {
        return Err(OAuthError::invalid_token(
            "the access token's client is no longer registered",
        ));
    }
    Ok(())
}

/// RFC 7009 §2.1: whether the access token `token` (`jti`, of grant `grant_id`) has been revoked,
/// itself or with its grant, asked where `check` says.
async fn is_revoked(
    ctx: &Context<'_>,
    token: &str,
    jti: &str,
    grant_id: &crate::domain::grant::GrantId,
    check: RevocationCheck,
) -> Result<bool, StoreError> {
    if check == RevocationCheck::Store || token.starts_with(REFERENCE_TOKEN_PREFIX) {
        ctx.store.is_revoked(jti, grant_id).await
    } else {
        ctx.revocations.is_revoked(ctx.store, jti, grant_id).await
    }
}

/// The client a token was issued to, if it is still registered: a deleted client's tokens stop
/// working at once (within the client cache's lifetime), not when they expire.
pub async fn client_still_registered(
    ctx: &Context<'_>,
    client_id: &str,
) -> Result<bool, StoreError> {
    let Ok(client_id) = ClientId::parse(client_id) else {
        return Ok(false);
    };
    Ok(ctx
        .clients
        .find(ctx.store, &client_id, ctx.now)
        .await?
        .is_some())
}

/// An access token is still good: signed by us, unexpired, not revoked (by `jti` or grant), its
/// client registered, and — for a user's token — its user active. RFC 9068 §5: the grant id tells a
/// user's token from a client's own, never the shape of `sub`. The revocation is asked as `check`
/// says.
pub async fn live_access_token(
    ctx: &Context<'_>,
    token: &str,
    check: RevocationCheck,
) -> Result<Option<(AccessTokenClaims, Option<User>)>, StoreError> {
    let Some(claims) = access_token_claims(ctx, token).await? else {
        return Ok(None);
    };
    let grant = claims.grant_id();
    let Some(kind) = grant.kind() else {
        return Ok(None);
    };
    if is_revoked(ctx, token, &claims.jti, &grant, check).await?
        || !client_still_registered(ctx, &claims.client_id).await?
    {
        return Ok(None);
    }
    match kind {
        GrantKind::ClientCredentials if claims.sub == claims.client_id => Ok(Some((claims, None))),
        GrantKind::ClientCredentials => Ok(None),
        GrantKind::User => {
            match active_user(ctx.store, &UserId::from_stored(claims.sub.clone())).await? {
                Some(user) => Ok(Some((claims, Some(user)))),
                None => Ok(None),
            }
        }
    }
}

async fn access_token(
    ctx: &Context<'_>,
    caller: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Some((claims, user)) = live_access_token(ctx, token, RevocationCheck::Cached).await? else {
        return Ok(None);
    };
    if !may_see(caller, &claims.client_id, Some(&claims.aud)) {
        return Ok(None);
    }
    let mut body = json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "exp": claims.exp,
        "iat": claims.iat,
        "iss": claims.iss,
        "aud": claims.aud,
        "jti": claims.jti,
        "token_type": "Bearer",
    });
    // RFC 9068 §2.2.1 (and RFC 9470 §3): when and how the user authenticated, for a resource
    // server that asks for a stronger sign-in.
    if let Some(auth_time) = claims.auth_time {
        body["auth_time"] = json!(auth_time);
    }
    if let Some(acr) = &claims.acr {
        body["acr"] = json!(acr);
    }
    // RFC 7662 §2.2 allows more claims: the token's own `roles` and `groups` (RFC 9068 §2.2.3.1),
    // as they were when it was issued.
    if !claims.authorization.roles.is_empty() {
        body["roles"] = json!(claims.authorization.roles);
    }
    if !claims.authorization.groups.is_empty() {
        body["groups"] = json!(claims.authorization.groups);
    }
    // RFC 9449 §6.2: a DPoP-bound token's `cnf` (its key's thumbprint), and its type.
    if let Some(cnf) = &claims.cnf {
        body["cnf"] = json!(cnf);
        if cnf.jkt.is_some() {
            body["token_type"] = json!("DPoP");
        }
    }
    // RFC 7662 §2.2 `username`: only ever for a user's token.
    if let Some(user) = user {
        body["username"] = json!(user.username);
    }
    Ok(Some(body))
}

async fn refresh_token(
    ctx: &Context<'_>,
    caller: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Some(stored) = ctx.store.find_refresh_token(&TokenHash::of(token)).await? else {
        return Ok(None);
    };
    let absolute_end = stored
        .grant_created_at
        .saturating_add(ctx.settings.lifetimes.refresh_token_absolute);
    if stored.rotated_at.is_some()
        || stored.grant_revoked
        || stored.expires_at <= ctx.now
        || absolute_end <= ctx.now
        || !may_see(caller, stored.client_id.as_str(), None)
    {
        return Ok(None);
    }
    let mut body = json!({
        "active": true,
        "scope": stored.scope.to_string(),
        "client_id": stored.client_id.as_str(),
        "sub": stored.user_id.as_ref().map_or(stored.client_id.as_str(), UserId::as_str),
        "exp": stored.expires_at.min(absolute_end),
        "iat": stored.created_at,
        "iss": ctx.settings.issuer.as_str(),
        "token_type": "refresh_token",
    });
    if let Some(user_id) = &stored.user_id {
        match active_user(ctx.store, user_id).await? {
            Some(user) => body["username"] = json!(user.username),
            None => return Ok(None),
        }
    }
    Ok(Some(body))
}
