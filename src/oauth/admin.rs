//! Who may use the admin API: the bearer of an access token of this server (RFC 6750), issued by
//! client credentials to a client holding the `latchkey:admin` scope, for no API (its `aud` is the
//! server's own), unexpired, unrevoked, and whose client is still registered.

use super::Context;
use super::introspect::{RevocationCheck, still_live, verified_bearer};
use crate::domain::client::ClientId;
use crate::domain::grant::REFERENCE_TOKEN_PREFIX;
use crate::domain::scope::ScopeSet;
use crate::error::{ErrorCode, OAuthError};

/// The scope an admin client is registered with (`latchkey admin bootstrap`).
pub const ADMIN_SCOPE: &str = "latchkey:admin";

/// The admin client presenting `token`, or the RFC 6750 §3.1 refusal: `invalid_token` (401) for a
/// token that is not a live admin token of this server, `insufficient_scope` (403) for a live token
/// without `latchkey:admin`.
pub async fn admin_caller(ctx: &Context<'_>, token: &str) -> Result<ClientId, OAuthError> {
    if token.starts_with(REFERENCE_TOKEN_PREFIX) {
        return Err(OAuthError::invalid_token(
            "admin tokens are JWTs for this server, not reference tokens of an API",
        ));
    }
    let claims = verified_bearer(ctx, token)?;
    // RFC 9068 §4: a token meant for an API is not meant for the admin API.
    if claims.aud != ctx.settings.access_token_audience {
        return Err(OAuthError::invalid_token(
            "the access token is for another audience",
        ));
    }
    // An operator's own client, by client credentials (RFC 9068 §2.2: `sub` is the client).
    let grant = claims.grant_id();
    if grant.is_user_grant() || claims.sub != claims.client_id {
        return Err(OAuthError::invalid_token(
            "the admin API takes an admin client's own token, not a user's",
        ));
    }
    still_live(ctx, token, &claims, RevocationCheck::Store).await?;
    if !ScopeSet::parse(&claims.scope)
        .unwrap_or_default()
        .contains(ADMIN_SCOPE)
    {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the admin API requires the latchkey:admin scope",
        )
        .bearer());
    }
    ClientId::parse(&claims.client_id)
        .map_err(|_| OAuthError::invalid_token("the access token is invalid"))
}
