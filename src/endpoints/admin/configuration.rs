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
use crate::admin::apply::{self as admin_apply, Document, Options};
use crate::state::AppState;

/// The largest configuration accepted (the rest of the admin API takes small bodies); read only
/// once the caller is known to be an admin.
pub const MAX_APPLY_BYTES: usize = 16 * 1024 * 1024;

/// What to apply: the document, the secrets the caller read for its clients (by client id), and
/// `apply`'s flags.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyInput {
    document: Document,
    #[serde(default)]
    secrets: BTreeMap<String, SecretString>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    prune: bool,
}

/// `POST /admin/v1/apply`: the plan (`{"create", "update", "delete"}`), whether it was applied, and
/// the generated secrets of the clients it created (shown once). `--prune` never deletes the admin
/// client making the request.
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

/// `GET /admin/v1/export`: the configuration, as `latchkey export --json` writes it.
pub async fn export(State(state): State<AppState>, _admin: Admin) -> Response {
    match admin_apply::export(state.store.as_ref()).await {
        Ok(document) => Json(document).into_response(),
        Err(err) => err.into_response(),
    }
}
