//! The UserInfo endpoint's decision (OIDC Core §5.3): the user's claims, by the access token's scopes.

use serde::Serialize;

use super::Context;
use super::introspect::{access_token_claims, still_live, verified_bearer};
use crate::domain::claims::{RoleClaims, StandardClaims};
use crate::domain::grant::REFERENCE_TOKEN_PREFIX;
use crate::domain::role::Authorization;
use crate::domain::scope::ScopeSet;
use crate::domain::user::UserId;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::active_user;

/// OIDC Core §5.3.2 successful UserInfo response.
#[derive(Debug, Serialize)]
pub struct UserInfo {
    /// The user's `sub`.
    pub sub: String,
    /// Claims released for the token's scopes (OIDC Core §5.4).
    #[serde(flatten)]
    pub claims: StandardClaims,
    /// `roles` and `groups` (RFC 9068 §2.2.3.1), with the scopes of those names, as they are now.
    #[serde(flatten)]
    pub authorization: RoleClaims,
}

/// OIDC Core §5.3: the claims of the user `token` was issued for; RFC 6750 §3.1 errors.
pub async fn userinfo(ctx: &Context<'_>, token: &str) -> Result<UserInfo, OAuthError> {
    let claims = if token.starts_with(REFERENCE_TOKEN_PREFIX) {
        // A reference token (RFC 7662): its stored claims, while it has not expired.
        access_token_claims(ctx, token).await?.ok_or_else(|| {
            OAuthError::invalid_token("the access token is invalid or has expired")
        })?
    } else {
        verified_bearer(ctx, token)?
    };
    // RFC 9068 §5: a client's own (client-credentials) token never passes for a user's, whatever
    // its scope or `sub`.
    let grant = claims.grant_id();
    if !grant.is_user_grant() {
        return Err(OAuthError::invalid_token(
            "the access token was not issued for a user",
        ));
    }
    still_live(ctx, &claims).await?;
    let scope = ScopeSet::parse(&claims.scope).unwrap_or_default();
    // OIDC Core §5.3: the UserInfo endpoint serves tokens granted with `openid`.
    if !scope.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token lacks the openid scope",
        )
        .bearer());
    }
    let user = active_user(ctx.store, &UserId::from_stored(claims.sub.clone()))
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the user is no longer active"))?;
    // Read only when the scope releases them: most UserInfo calls cost no extra query.
    let authorization = if RoleClaims::released_by(&scope) {
        ctx.store.find_authorization(&user.user_id).await?
    } else {
        Authorization::default()
    };
    Ok(UserInfo {
        sub: user.user_id.to_string(),
        claims: StandardClaims::for_scopes(&user, &scope),
        authorization: RoleClaims::for_scopes(&authorization, &scope),
    })
}
