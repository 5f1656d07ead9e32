//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

use std::collections::HashMap;

use super::{Issuance, TokenResponse, issue};
use crate::domain::client::{Client, GrantType};
use crate::domain::grant::{Grant, NewRefreshToken, REFRESH_TOKEN_PREFIX, Redemption};
use crate::domain::pkce::verify_s256;
use crate::domain::secret::{TokenHash, random_token};
use crate::error::OAuthError;
use crate::state::AppState;

/// Redeem a code for tokens. The code is consumed atomically: of any number of concurrent
/// redemptions exactly one succeeds, and a code presented again revokes what it produced
/// (RFC 6749 §4.1.2, RFC 9700 §4.2.1).
pub async fn redeem(
    state: &AppState,
    client: &Client,
    params: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let lifetimes = &state.settings.lifetimes;
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let hash = TokenHash::of(code);
    let record = state
        .store
        .find_authorization_code(&hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is invalid"))?;
    // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
    if record.client_id != client.client_id.as_str() {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.consumed_at.is_some() {
        revoke_replayed(state, &record.grant_id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code has already been used",
        ));
    }
    if record.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    // RFC 6749 §4.1.3: redirect_uri, when sent, must be identical to the authorization request's.
    if params
        .get("redirect_uri")
        .is_some_and(|uri| *uri != record.redirect_uri)
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    // RFC 7636 §4.6; RFC 9700 §2.1.1: a verifier without a challenge is refused (no PKCE downgrade).
    match (&record.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if verify_s256(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "PKCE verification failed: wrong code_verifier",
            ));
        }
        (Some(_), None) => return Err(OAuthError::invalid_request("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent for a code issued without PKCE",
            ));
        }
        (None, None) => {}
    }
    let user = state
        .store
        .find_user(&record.user_id)
        .await?
        .filter(|user| !user.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?;

    let refresh_token = client
        .allows_grant(GrantType::RefreshToken)
        .then(|| random_token(REFRESH_TOKEN_PREFIX));
    let new_refresh = refresh_token.as_ref().map(|token| NewRefreshToken {
        token_hash: TokenHash::of(token),
        grant_id: record.grant_id.clone(),
        scope: record.scope.clone(),
        created_at: now,
        expires_at: now + lifetimes.refresh_token,
    });
    let grant = Grant {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        user_id: Some(record.user_id.clone()),
        scope: record.scope.clone(),
        auth_time: Some(record.auth_time),
        created_at: now,
        expires_at: new_refresh
            .as_ref()
            .map_or(now + lifetimes.access_token, |r| r.expires_at),
        revoked_at: None,
    };
    let redemption = state
        .store
        .redeem_authorization_code(&hash, &grant, new_refresh.as_ref(), now)
        .await?;
    if redemption == Redemption::AlreadyUsed {
        revoke_replayed(state, &record.grant_id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code has already been used",
        ));
    }
    issue(
        state,
        Issuance {
            client,
            subject: &record.user_id,
            scope: &record.scope,
            grant_id: &record.grant_id,
            auth_time: Some(record.auth_time),
            id_token_for: Some((&user, record.nonce.as_deref())),
            refresh_token,
        },
        now,
    )
}

/// RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens issued from it.
async fn revoke_replayed(state: &AppState, grant_id: &str, now: i64) -> Result<(), OAuthError> {
    tracing::warn!(grant_id, "authorization code replayed; revoking its grant");
    let keep_until = now
        + state
            .settings
            .lifetimes
            .access_token
            .max(state.settings.lifetimes.refresh_token);
    state.store.revoke_grant(grant_id, now, keep_until).await?;
    Ok(())
}
