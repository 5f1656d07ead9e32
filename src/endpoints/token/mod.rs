//! `POST /token` (RFC 6749 §3.2): authenticate the client, parse `grant_type` into a grant, answer
//! with tokens or an RFC 6749 §5.2 error. Every answer carries `Cache-Control: no-store`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::extract::{FormBody, authenticated_form};
use crate::domain::claims::{
    AccessTokenClaims, IdTokenClaims, JTI_PREFIX, StandardClaims, at_hash,
};
use crate::domain::client::{Client, GrantType};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::random_string;
use crate::domain::user::User;
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::{sign_access_token, sign_id_token};

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

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
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: FormBody) -> Response {
    match exchange(&state, &headers, body).await {
        Ok(tokens) => tokens.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: FormBody,
) -> Result<TokenResponse, OAuthError> {
    let (client, params) = authenticated_form(state, headers, body).await?;
    let grant_type = match params.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("authorization_code") => GrantType::AuthorizationCode,
        Some("client_credentials") => GrantType::ClientCredentials,
        Some("refresh_token") => GrantType::RefreshToken,
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
        GrantType::ClientCredentials => client_credentials::issue_to(state, &client, &params),
        GrantType::RefreshToken => refresh_token::rotate(state, &client, &params).await,
    }
}

/// What a grant produces, before signing.
pub struct Issuance<'a> {
    /// The client.
    pub client: &'a Client,
    /// `sub`: the user, or the client itself.
    pub subject: &'a str,
    /// The access token's scope.
    pub scope: &'a ScopeSet,
    /// The grant the tokens belong to (`gid`).
    pub grant_id: &'a str,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// The user and nonce, when an ID token may be issued (only if `openid` is in scope).
    pub id_token_for: Option<(&'a User, Option<&'a str>)>,
    /// A refresh token already stored, to hand out.
    pub refresh_token: Option<String>,
}

/// Sign the access token (RFC 9068) and, for `openid`, the ID token (OIDC Core §2, §3.1.3.6 `at_hash`).
pub fn issue(
    state: &AppState,
    issuance: Issuance<'_>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let lifetimes = &state.settings.lifetimes;
    let client_id = issuance.client.client_id.as_str();
    let issuer = state.settings.issuer.as_str();
    let access_token = sign_access_token(
        &state.keys,
        state.settings.access_token_alg,
        &AccessTokenClaims {
            iss: issuer.to_owned(),
            sub: issuance.subject.to_owned(),
            aud: state.settings.access_token_audience.clone(),
            exp: now + lifetimes.access_token,
            iat: now,
            jti: format!("{JTI_PREFIX}{}", random_string(16)),
            client_id: client_id.to_owned(),
            scope: issuance.scope.to_string(),
            gid: issuance.grant_id.to_owned(),
            auth_time: issuance.auth_time,
        },
    )?;
    // OIDC Dynamic Registration §2: the client's `id_token_signed_response_alg`, else the default.
    let id_alg = issuance
        .client
        .id_token_alg
        .unwrap_or(state.settings.id_token_alg);
    let id_token = match issuance.id_token_for {
        Some((user, nonce)) if issuance.scope.contains("openid") => Some(sign_id_token(
            &state.keys,
            id_alg,
            &IdTokenClaims {
                iss: issuer.to_owned(),
                sub: issuance.subject.to_owned(),
                aud: client_id.to_owned(),
                exp: now + lifetimes.id_token,
                iat: now,
                auth_time: issuance.auth_time.unwrap_or(now),
                nonce: nonce.map(str::to_owned),
                at_hash: Some(at_hash(&access_token, id_alg.as_str())),
                azp: client_id.to_owned(),
                standard: StandardClaims::for_scopes(user, issuance.scope),
            },
        )?),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetimes.access_token,
        scope: issuance.scope.to_string(),
        id_token,
        refresh_token: issuance.refresh_token,
    })
}
