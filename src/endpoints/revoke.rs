//! `POST /revoke` (RFC 7009): a client revokes one of its own tokens. An access token is revoked by
//! its `jti`; a refresh token revokes its whole grant. Unknown or malformed tokens get 200 (§2.2).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{FormBody, authenticated_form};
use crate::domain::client::Client;
use crate::domain::grant::REFRESH_TOKEN_PREFIX;
use crate::domain::secret::TokenHash;
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::verify_access_token_signature;

/// `POST /revoke`.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: FormBody) -> Response {
    match answer(&state, &headers, body).await {
        Ok(()) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            StatusCode::OK,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

/// RFC 7009 §2.1: the token must have been issued to the client asking.
fn not_yours() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
}

async fn answer(state: &AppState, headers: &HeaderMap, body: FormBody) -> Result<(), OAuthError> {
    let (client, params) = authenticated_form(state, headers, body).await?;
    let token = params
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // `token_type_hint` is honoured only as a hint (§2.1): the token's own form decides.
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        revoke_refresh_token(state, &client, token).await
    } else {
        revoke_access_token(state, &client, token).await
    }
}

async fn revoke_refresh_token(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<(), OAuthError> {
    let Some(stored) = state
        .store
        .find_refresh_token(&TokenHash::of(token))
        .await?
    else {
        return Ok(());
    };
    if stored.client_id != client.client_id.as_str() {
        return Err(not_yours());
    }
    let now = state.clock.now();
    let lifetimes = &state.settings.lifetimes;
    // RFC 7009 §2.1: revoking a refresh token revokes the grant and its access tokens.
    let keep_until = now + lifetimes.refresh_token.max(lifetimes.access_token);
    state
        .store
        .revoke_grant(&stored.grant_id, now, keep_until)
        .await?;
    tracing::info!(grant_id = %stored.grant_id, "grant revoked by its client");
    Ok(())
}

async fn revoke_access_token(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<(), OAuthError> {
    let Ok(claims) = verify_access_token_signature(&state.keys, &state.settings, token) else {
        return Ok(());
    };
    if claims.client_id != client.client_id.as_str() {
        return Err(not_yours());
    }
    if claims.exp > state.clock.now() {
        state
            .store
            .revoke_access_token(&claims.jti, claims.exp)
            .await?;
    }
    Ok(())
}
