//! `POST /introspect` (RFC 7662): is this token valid now, and what does it carry?
//!
//! Only authenticated confidential clients may ask. A client learns about its own tokens; a client
//! registered as a resource server (`--introspect-any`) about any token. Anything not valid now —
//! expired, revoked, malformed, forged, unknown, or someone else's — is `{"active": false}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::{FormBody, authenticated_form};
use super::token::client_credentials::CC_GRANT_PREFIX;
use crate::domain::client::Client;
use crate::domain::grant::REFRESH_TOKEN_PREFIX;
use crate::domain::secret::TokenHash;
use crate::error::OAuthError;
use crate::state::AppState;
use crate::tokens::verify_access_token;

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: FormBody,
) -> Response {
    match answer(&state, &headers, body).await {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => err.into_response(),
    }
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    body: FormBody,
) -> Result<Value, OAuthError> {
    let (client, params) = authenticated_form(state, headers, body).await?;
    // RFC 7662 §2.1: the caller must be authorized; a public client holds no credential to show.
    if !client.auth_method.is_confidential() {
        return Err(OAuthError::invalid_client(
            "public clients cannot use introspection",
        ));
    }
    let token = params
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // `token_type_hint` (RFC 7662 §2.1) is not needed: the two kinds are told apart exactly by form.
    let active = if token.starts_with(REFRESH_TOKEN_PREFIX) {
        refresh_token(state, &client, token).await?
    } else {
        access_token(state, &client, token).await?
    };
    Ok(active.unwrap_or_else(|| json!({ "active": false })))
}

fn may_see(caller: &Client, token_client_id: &str) -> bool {
    caller.introspect_any || caller.client_id.as_str() == token_client_id
}

async fn access_token(
    state: &AppState,
    caller: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let now = state.clock.now();
    let Ok(claims) = verify_access_token(&state.keys, &state.settings, token, now) else {
        return Ok(None);
    };
    if !may_see(caller, &claims.client_id)
        || state.store.is_revoked(&claims.jti, &claims.gid).await?
    {
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
    if !claims.gid.starts_with(CC_GRANT_PREFIX) {
        match state.store.find_user(&claims.sub).await? {
            Some(user) if !user.disabled => body["username"] = json!(user.username),
            _ => return Ok(None),
        }
    }
    Ok(Some(body))
}

async fn refresh_token(
    state: &AppState,
    caller: &Client,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let now = state.clock.now();
    let Some(stored) = state
        .store
        .find_refresh_token(&TokenHash::of(token))
        .await?
    else {
        return Ok(None);
    };
    if stored.rotated_at.is_some()
        || stored.grant_revoked
        || stored.expires_at <= now
        || !may_see(caller, &stored.client_id)
    {
        return Ok(None);
    }
    let mut body = json!({
        "active": true,
        "scope": stored.scope.to_string(),
        "client_id": stored.client_id,
        "sub": stored.user_id.as_deref().unwrap_or(&stored.client_id),
        "exp": stored.expires_at,
        "iat": stored.created_at,
        "iss": state.settings.issuer.as_str(),
        "token_type": "refresh_token",
    });
    if let Some(user_id) = &stored.user_id {
        match state.store.find_user(user_id).await? {
            Some(user) if !user.disabled => body["username"] = json!(user.username),
            _ => return Ok(None),
        }
    }
    Ok(Some(body))
}
