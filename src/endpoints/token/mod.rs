//! `POST /token` (RFC 6749 §3.2): authenticate the client, parse `grant_type` into a grant, answer
//! with tokens or an RFC 6749 §5.2 error. Every answer carries `Cache-Control: no-store`.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::extract::{authenticate_client, single_params};
use crate::app::AppState;
use crate::domain::client::GrantType;
use crate::error::{ErrorCode, OAuthError};

pub mod authorization_code;

/// RFC 6749 §5.1 successful token response (plus OIDC Core §3.1.3.3 `id_token`).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token (an RFC 9068 JWT).
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scope.
    pub scope: String,
    /// OIDC ID token, for `openid` requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1: MUST include Cache-Control: no-store (and Pragma: no-cache).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// `POST /token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match exchange(&state, &headers, body).await {
        Ok(tokens) => tokens.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<TokenResponse, OAuthError> {
    let Form(pairs) = body.map_err(|_| {
        OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
    })?;
    let params = single_params(pairs)?;
    let client = authenticate_client(state.store.as_ref(), headers, &params).await?;
    let grant_type = match params.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("authorization_code") => GrantType::AuthorizationCode,
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other} is not supported"),
            ));
        }
    };
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client is not registered for {}", grant_type.as_str()),
        ));
    }
    match grant_type {
        GrantType::AuthorizationCode => authorization_code::redeem(state, &client, &params).await,
        GrantType::ClientCredentials | GrantType::RefreshToken => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {} is not supported", grant_type.as_str()),
        )),
    }
}
