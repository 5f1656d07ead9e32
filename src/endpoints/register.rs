//! `POST /register` (RFC 7591 §3) and `GET/PUT/DELETE /register/{client_id}` (RFC 7592 §2): JSON in
//! and out, the rules in `oauth::registration`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::HeaderBearerToken;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::registration::{self, Registered, RegistrationError};
use crate::state::AppState;

/// The JSON body: anything else is `invalid_client_metadata` (RFC 7591 §3.2.2).
fn metadata(body: &Bytes) -> Result<Value, OAuthError> {
    serde_json::from_slice(body).map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the request body must be a JSON object of client metadata",
        )
    })
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
fn answer(state: &AppState, status: StatusCode, registered: &Registered) -> Response {
    let ctx = state.context(state.clock.now());
    (status, Json(registration::information(&ctx, registered))).into_response()
}

/// `POST /register`: `201 Created` with the client information (RFC 7591 §3.2.1), `400` with
/// `invalid_redirect_uri` / `invalid_client_metadata` (§3.2.2), `401` without a usable initial
/// access token, `429` with `Retry-After` when the caller's network registered too often.
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    token: Result<HeaderBearerToken, OAuthError>,
    body: Bytes,
) -> Response {
    // A missing token is the policy's business (open registration needs none).
    let token = match token {
        Ok(HeaderBearerToken(token)) => Some(token),
        Err(err) if err.description.is_none() => None,
        Err(err) => return err.into_response(),
    };
    let ctx = state.context(state.clock.now());
    // Not JSON: `oauth::registration` refuses it, after counting the attempt and checking the token.
    let body = metadata(&body).unwrap_or(Value::Null);
    match registration::register(&ctx, peer.ip(), token.as_deref(), &body).await {
        Ok(registered) => answer(&state, StatusCode::CREATED, &registered),
        Err(RegistrationError::Refused(err)) => err.into_response(),
        Err(RegistrationError::Throttled { retry_after }) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "error": ErrorCode::TemporarilyUnavailable.as_str(),
                    "error_description": format!(
                        "too many registrations from this network; retry in {retry_after} seconds"
                    ),
                })),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// `GET /register/{client_id}`: the client information (RFC 7592 §2.1), with a new registration
/// access token.
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    HeaderBearerToken(token): HeaderBearerToken,
) -> Response {
    let ctx = state.context(state.clock.now());
    match registration::read(&ctx, &client_id, &token).await {
        Ok(registered) => answer(&state, StatusCode::OK, &registered),
        Err(err) => err.into_response(),
    }
}

/// `PUT /register/{client_id}`: replace the registration (RFC 7592 §2.2).
pub async fn replace(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    HeaderBearerToken(token): HeaderBearerToken,
    body: Bytes,
) -> Response {
    let body = match metadata(&body) {
        Ok(body) => body,
        Err(err) => return err.into_response(),
    };
    let ctx = state.context(state.clock.now());
    match registration::replace(&ctx, &client_id, &token, &body).await {
        Ok(registered) => answer(&state, StatusCode::OK, &registered),
        Err(err) => err.into_response(),
    }
}

/// `DELETE /register/{client_id}`: `204 No Content` (RFC 7592 §2.3).
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    HeaderBearerToken(token): HeaderBearerToken,
) -> Response {
    let ctx = state.context(state.clock.now());
    match registration::delete(&ctx, &client_id, &token).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => err.into_response(),
    }
}
