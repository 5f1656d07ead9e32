//! The admin API, `/admin/v1/…`: JSON in and out, authorized by an admin client's access token
//! (`oauth::admin::admin_caller`), with the CLI's rules and messages (`crate::admin`). Every change
//! is an audit event whose actor is the admin client. One file per resource; each handler's
//! `#[utoipa::path]` both routes it (`app.rs`, through `utoipa_axum::routes!`) and documents it in
//! the OpenAPI document (`openapi.rs`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::extract::HeaderBearerToken as BearerToken;
use crate::admin::AdminError;
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::client::ClientId;
use crate::error::{ErrorBody, OAuthError};
use crate::oauth::admin::admin_caller;
use crate::state::AppState;

pub mod apis;
pub mod audit_events;
pub mod clients;
pub mod configuration;
pub mod groups;
pub mod openapi;
pub mod registration_tokens;
pub mod roles;
pub mod scopes;
pub mod users;

/// A refusal of the admin API: `{"error": …, "error_description": …}` with its status.
pub(super) fn refusal(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(ErrorBody {
            error,
            error_description: Some(description),
        }),
    )
        .into_response()
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(why) => refusal(StatusCode::BAD_REQUEST, "invalid_request", &why),
            Self::NotFound(why) => refusal(StatusCode::NOT_FOUND, "not_found", &why),
            Self::Store(err) => OAuthError::from(err).into_response(),
            Self::Seal(err) => {
                tracing::error!(error = %err, "admin: sealing a client secret failed");
                OAuthError::server_error().into_response()
            }
        }
    }
}

/// The admin client behind the request's bearer token (`oauth::admin::admin_caller`); the
/// RFC 6750 refusal otherwise. Reads no body, so it goes before a `Json` extractor.
pub struct Admin(pub ClientId);

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let ctx = state.context(state.clock.now());
        admin_caller(&ctx, &token)
            .await
            .map(Self)
            .map_err(IntoResponse::into_response)
    }
}

/// An admin client's change to `object` `id`, for the audit trail (its actor is the admin client).
pub(super) fn change(
    state: &AppState,
    admin: &ClientId,
    object: &str,
    action: &str,
    id: &str,
) -> AuditEvent {
    AuditEvent::new(
        EventType::AdminChange,
        state.clock.now(),
        format!("client:{admin}"),
    )
    .with("object", object)
    .with("action", action)
    .with("id", id)
}

/// Record an admin client's change to the client `id`, with `detail`'s fields (after the change
/// committed; a failure to record is logged).
pub(super) async fn changed(
    state: &AppState,
    admin: &ClientId,
    action: &str,
    id: &str,
    detail: Value,
) {
    let mut event = change(state, admin, "client", action, id).client(id.to_owned());
    if let Value::Object(fields) = detail {
        for (key, value) in fields {
            event = event.with(&key, value);
        }
    }
    audit::record_or_log(state.store.as_ref(), event).await;
}

/// A JSON body, or `400 invalid_request` naming what is wrong with it.
pub(super) fn body<T>(input: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    input
        .map(|Json(value)| value)
        .map_err(|rejection| AdminError::Invalid(rejection.body_text()))
}

/// Record `event` (after the change committed; a failure to record is logged) and answer `answer`.
pub(super) async fn recorded(
    state: &AppState,
    event: AuditEvent,
    answer: Response,
) -> Result<Response, Response> {
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(answer)
}
