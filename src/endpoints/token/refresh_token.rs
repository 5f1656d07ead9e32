//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! Every use spends the token and hands out a new one. A spent token presented again revokes the
//! whole grant, unless it comes back within the grace window after its rotation and its successor
//! was never used: then the successor is retired and a new token issued in its place, so a client
//! that retried after a lost response keeps its session and there is still exactly one live token.

use std::collections::HashMap;

use super::{Issuance, TokenResponse, issue};
use crate::domain::client::Client;
use crate::domain::grant::{NewRefreshToken, REFRESH_TOKEN_PREFIX, Rotation};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_token};
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// Rotate the presented refresh token and issue fresh tokens.
pub async fn rotate(
    state: &AppState,
    client: &Client,
    params: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let lifetimes = &state.settings.lifetimes;
    let presented = params
        .get("refresh_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let hash = TokenHash::of(presented);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let token = state
        .store
        .find_refresh_token(&hash)
        .await?
        .ok_or_else(invalid)?;
    // RFC 6749 §6: the token must have been issued to the authenticated client.
    if token.client_id != client.client_id.as_str() {
        return Err(invalid());
    }
    if token.grant_revoked || token.expires_at <= now {
        return Err(invalid());
    }
    // A refresh token bound to a user stops working when the user is disabled or deleted.
    let user = match &token.user_id {
        Some(user_id) => Some(
            state
                .store
                .find_user(user_id)
                .await?
                .filter(|u| !u.disabled)
                .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?,
        ),
        None => None,
    };
    // RFC 6749 §6: the scope may be narrowed, never widened.
    let scope = match params.get("scope").filter(|s| !s.is_empty()) {
        Some(raw) => {
            let requested = ScopeSet::parse(raw)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
            if !requested.is_subset(&token.scope) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds the scope originally granted",
                ));
            }
            requested
        }
        None => token.scope.clone(),
    };

    let new_token = random_token(REFRESH_TOKEN_PREFIX);
    let next = NewRefreshToken {
        token_hash: TokenHash::of(&new_token),
        grant_id: token.grant_id.clone(),
        scope: token.scope.clone(),
        created_at: now,
        expires_at: now + lifetimes.refresh_token,
    };
    let grace_since = if lifetimes.refresh_token_grace > 0 {
        now - lifetimes.refresh_token_grace
    } else {
        i64::MAX
    };
    // Revocation is remembered as long as anything issued from the grant could still be presented.
    let keep_until = now + lifetimes.refresh_token.max(lifetimes.access_token);
    match state
        .store
        .rotate_refresh_token(&hash, &next, now, grace_since, keep_until)
        .await?
    {
        Rotation::Rotated | Rotation::Reissued => {}
        Rotation::Reused => {
            tracing::warn!(grant_id = %token.grant_id, "spent refresh token presented again; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of this grant is now revoked",
            ));
        }
        Rotation::Refused => return Err(invalid()),
    }
    issue(
        state,
        Issuance {
            client,
            subject: token.user_id.as_deref().unwrap_or(&token.client_id),
            scope: &scope,
            grant_id: &token.grant_id,
            auth_time: token.auth_time,
            id_token_for: user.as_ref().map(|u| (u, None)),
            refresh_token: Some(new_token),
        },
        now,
    )
}
