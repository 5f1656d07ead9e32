//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

use std::collections::HashMap;

use super::TokenResponse;
use crate::app::AppState;
use crate::domain::claims::{
    AccessTokenClaims, IdTokenClaims, JTI_PREFIX, StandardClaims, at_hash,
};
use crate::domain::client::Client;
use crate::domain::grant::{Grant, Redemption};
use crate::domain::pkce::verify_s256;
use crate::domain::secret::{TokenHash, random_string};
use crate::error::OAuthError;
use crate::keys::SigningAlg;
use crate::tokens::{sign_access_token, sign_id_token};

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

    let grant = Grant {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        user_id: Some(record.user_id.clone()),
        scope: record.scope.clone(),
        auth_time: Some(record.auth_time),
        created_at: now,
        expires_at: now + lifetimes.access_token,
        revoked_at: None,
    };
    if state
        .store
        .redeem_authorization_code(&hash, &grant, now)
        .await?
        == Redemption::AlreadyUsed
    {
        revoke_replayed(state, &record.grant_id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code has already been used",
        ));
    }

    let alg = SigningAlg::RS256;
    let scope = record.scope.to_string();
    let access_token = sign_access_token(
        &state.keys,
        alg,
        &AccessTokenClaims {
            iss: state.settings.issuer.as_str().to_owned(),
            sub: record.user_id.clone(),
            aud: state.settings.access_token_audience.clone(),
            exp: now + lifetimes.access_token,
            iat: now,
            jti: format!("{JTI_PREFIX}{}", random_string(16)),
            client_id: record.client_id.clone(),
            scope: scope.clone(),
            gid: record.grant_id.clone(),
            auth_time: Some(record.auth_time),
        },
    )?;
    let id_token = if record.scope.contains("openid") {
        Some(sign_id_token(
            &state.keys,
            alg,
            &IdTokenClaims {
                iss: state.settings.issuer.as_str().to_owned(),
                sub: record.user_id.clone(),
                aud: record.client_id.clone(),
                exp: now + lifetimes.id_token,
                iat: now,
                auth_time: record.auth_time,
                nonce: record.nonce.clone(),
                at_hash: Some(at_hash(&access_token, alg.as_str())),
                azp: record.client_id.clone(),
                standard: StandardClaims::for_scopes(&user, &record.scope),
            },
        )?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetimes.access_token,
        scope,
        id_token,
        refresh_token: None,
    })
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
