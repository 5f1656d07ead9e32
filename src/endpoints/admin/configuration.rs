//! The admin API's declarative configuration: `POST /admin/v1/apply` (what `latchkey apply
//! --server` sends) and `GET /admin/v1/export`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::{Admin, body};
use crate::admin::apply::{self as admin_apply, Document, Options, Outcome};
use crate::paths::{ADMIN_APPLY_PATH, ADMIN_EXPORT_PATH};
use crate::state::AppState;

/// The largest configuration accepted (the rest of the admin API takes small bodies); read only
/// once the caller is known to be an admin.
pub const MAX_APPLY_BYTES: usize = 16 * 1024 * 1024;

/// What to apply: the document, the secrets the caller read for its clients (by client id), and
/// `apply`'s flags.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplyRequest)]
pub struct ApplyInput {
    /// The configuration, as `latchkey export --json` writes it.
    document: Document,
    /// Secrets of the document's clients, by client id (32 to 512 printable characters; never
    /// stored, only their digest).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    secrets: BTreeMap<String, SecretString>,
    /// Plan only; change nothing.
    #[serde(default)]
    dry_run: bool,
    /// Delete what the document does not list.
    #[serde(default)]
    prune: bool,
}

/// Apply a configuration.
///
/// `latchkey apply` over HTTP: the plan (`create`, `update` with the changed fields, `delete` with
/// `prune`), whether it was applied (in one transaction), and the generated secrets of the clients
/// it created (shown once). `prune` never deletes the admin client making the request.
#[utoipa::path(
    post,
    path = ADMIN_APPLY_PATH,
    tag = "configuration",
    request_body = ApplyInput,
    responses((status = 200, description = "The plan, and whether it was applied.", body = Outcome)),
)]
pub async fn apply(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<ApplyInput>, JsonRejection>,
) -> Response {
    let input = match body(input) {
        Ok(input) => input,
        Err(err) => return err.into_response(),
    };
    let options = Options {
        prune: input.prune,
        dry_run: input.dry_run,
        keep_client: Some(admin.0.clone()),
    };
    match admin_apply::apply(
        state.store.as_ref(),
        Some(state.keys.kek()),
        &input.document,
        &input.secrets,
        &options,
        &format!("client:{}", admin.0),
        state.clock.now(),
    )
    .await
    {
        Ok(outcome) => Json(outcome).into_response(),
        Err(err) => err.into_response(),
    }
}

/// Export the configuration.
///
/// `latchkey export --json`: scopes (but the OIDC ones), APIs, roles, groups, clients and users,
/// with their links; no secret or password.
#[utoipa::path(
    get,
    path = ADMIN_EXPORT_PATH,
    tag = "configuration",
    responses((status = 200, description = "The configuration document.", body = Document)),
)]
pub async fn export(State(state): State<AppState>, _admin: Admin) -> Response {
    match admin_apply::export(state.store.as_ref()).await {
        Ok(document) => Json(document).into_response(),
        Err(err) => err.into_response(),
    }
}
