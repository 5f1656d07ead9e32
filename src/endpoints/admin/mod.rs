//! The admin API, `/admin/v1/…`: JSON in and out, authorized by an admin client's access token
//! (`oauth::admin::admin_caller`), with the CLI's rules and messages (`crate::admin`). Every change
//! is an audit event whose actor is the admin client. One file per resource.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::HeaderBearerToken as BearerToken;
use crate::admin::AdminError;
use crate::admin::audit::{Query as AuditQuery, filter as audit_filter};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::client::ClientId;
use crate::error::OAuthError;
use crate::oauth::admin::admin_caller;
use crate::state::AppState;

mod apis;
mod clients;
mod configuration;
mod roles;
mod scopes;
mod users;

pub use apis::{create_api, delete_api, list_apis, show_api, update_api};
pub use clients::{
    create_client, delete_client, list_clients, rotate_client_secret, show_client, update_client,
};
pub use configuration::{MAX_APPLY_BYTES, apply, export};
pub use roles::{
    client_role, create_group, create_role, delete_group, delete_role, group_member, group_role,
    list_groups, list_roles, show_group, show_role, user_role,
};
pub use scopes::{create_scope, delete_scope, list_keys, list_scopes, rotate_key};
pub use users::{
    create_user, delete_user, disable_user, enable_user, list_users, revoke_user_sessions,
    set_user_password, show_user,
};

/// A refusal of the admin API: `{"error": …, "error_description": …}` with its status.
pub(super) fn refusal(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(why) => refusal(StatusCode::BAD_REQUEST, "invalid_request", &why),
            Self::NotFound(why) => refusal(StatusCode::NOT_FOUND, "not_found", &why),
            Self::Store(err) => OAuthError::from(err).into_response(),
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

/// `GET /admin/v1/audit-events?user=&client=&type=&since=&limit=`: the audit trail, newest first,
/// filtered as `latchkey audit list` does.
pub async fn list_audit_events(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<axum::extract::Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(axum::extract::Query(query)) => query,
        Err(rejection) => return AdminError::Invalid(rejection.body_text()).into_response(),
    };
    let listed = async {
        let filter = audit_filter(state.store.as_ref(), &query, state.clock.now()).await?;
        Ok::<_, AdminError>(state.store.list_audit_events(&filter).await?)
    };
    match listed.await {
        Ok(events) => Json(events).into_response(),
        Err(err) => err.into_response(),
    }
}
