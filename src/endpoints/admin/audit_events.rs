//! The admin API's audit trail: `/admin/v1/audit-events`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::Admin;
use crate::admin::AdminError;
use crate::admin::audit::{Query as AuditQuery, filter as audit_filter};
use crate::domain::audit::AuditEvent;
use crate::paths::ADMIN_AUDIT_EVENTS_PATH;
use crate::state::AppState;

/// List the audit trail.
///
/// Newest first, filtered as `latchkey audit list` filters it: the same parameters and messages.
#[utoipa::path(
    get,
    path = ADMIN_AUDIT_EVENTS_PATH,
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "The events, newest first.", body = [AuditEvent])),
)]
pub async fn list_audit_events(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
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
