//! The admin API's scopes and signing keys: `/admin/v1/scopes…`, `/admin/v1/keys…`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, body, change};
use crate::admin::AdminError;
use crate::admin::scope::{self as admin_scope, NewScope, ScopeView};
use crate::audit;
use crate::domain::alg::SigningAlg;
use crate::domain::api::Audience;
use crate::error::OAuthError;
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

/// A scope to create: `scope create`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeInput {
    name: String,
    description: String,
    #[serde(default)]
    api: Option<String>,
    #[serde(default)]
    hidden: bool,
}

/// `GET /admin/v1/scopes`.
pub async fn list_scopes(State(state): State<AppState>, _admin: Admin) -> Answer {
    let scopes = state
        .store
        .list_scopes()
        .await
        .map_err(|err| OAuthError::from(err).into_response())?;
    Ok(Json(scopes.iter().map(ScopeView::from).collect::<Vec<_>>()).into_response())
}

/// `POST /admin/v1/scopes`: 201.
pub async fn create_scope(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<ScopeInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(IntoResponse::into_response)?;
    let new = NewScope {
        name: input.name,
        description: input.description,
        api: input.api,
        hidden: input.hidden,
    };
    let scope = admin_scope::create(state.store.as_ref(), new, state.clock.now())
        .await
        .map_err(IntoResponse::into_response)?;
    let event = change(&state, &admin.0, "scope", "created", &scope.name)
        .with("api", scope.api.as_ref().map(Audience::as_str))
        .with("hidden", scope.hidden);
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok((StatusCode::CREATED, Json(ScopeView::from(&scope))).into_response())
}

/// `DELETE /admin/v1/scopes/{name}`: 204.
pub async fn delete_scope(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Answer {
    admin_scope::delete(state.store.as_ref(), &name)
        .await
        .map_err(IntoResponse::into_response)?;
    let event = change(&state, &admin.0, "scope", "deleted", &name);
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /admin/v1/keys`: the signing keys (never a private key), as `keys list --json` shows them.
pub async fn list_keys(State(state): State<AppState>, _admin: Admin) -> Answer {
    let keys = state
        .store
        .list_signing_keys()
        .await
        .map_err(|err| OAuthError::from(err).into_response())?;
    let views = crate::admin::key::views(&keys, state.keys.retention());
    Ok(Json(views).into_response())
}

/// Which algorithm to rotate.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    #[serde(default)]
    alg: Option<String>,
}

/// `POST /admin/v1/keys/rotate` (`{"alg": "ES256"}`, default RS256): as `keys rotate`; this instance
/// signs with the new key at once, the others at their next key refresh.
pub async fn rotate_key(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<RotateInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(IntoResponse::into_response)?;
    let alg: SigningAlg = input
        .alg
        .as_deref()
        .unwrap_or("RS256")
        .parse()
        .map_err(|why: String| AdminError::Invalid(why).into_response())?;
    let store = state.store.as_ref();
    let now = state.clock.now();
    let rotated = async {
        let kid = state.keys.rotate(store, alg, now).await?;
        state.keys.refresh(store, now).await?;
        Ok::<_, crate::keys::KeyError>(kid)
    }
    .await;
    let kid = rotated.map_err(|err| {
        tracing::error!(error = %err, %alg, "key rotation through the admin API failed");
        OAuthError::server_error().into_response()
    })?;
    let event = change(&state, &admin.0, "key", "rotated", &kid).with("alg", alg.as_str());
    audit::record_or_log(store, event).await;
    Ok(Json(json!({ "alg": alg.as_str(), "active_kid": kid })).into_response())
}
