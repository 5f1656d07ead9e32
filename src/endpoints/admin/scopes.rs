//! The admin API's scopes and signing keys: `/admin/v1/scopes…`, `/admin/v1/keys…`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, change};
use crate::admin::AdminError;
use crate::admin::key::KeyView;
use crate::admin::scope::{self as admin_scope, NewScope, ScopeView};
use crate::audit;
use crate::domain::alg::SigningAlg;
use crate::domain::api::Audience;
use crate::error::OAuthError;
use crate::paths::{ADMIN_KEYS_PATH, ADMIN_KEYS_ROTATE_PATH, ADMIN_SCOPE_PATH, ADMIN_SCOPES_PATH};
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

/// A scope to create: `scope create`'s options.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScopeRegistration)]
pub struct ScopeInput {
    /// Its name (RFC 6749 §3.3 scope-token).
    name: String,
    /// What granting it allows, shown on the consent page (at most 200 characters).
    description: String,
    /// The API it belongs to, by audience (registered first).
    #[serde(default)]
    api: Option<String>,
    /// Keep it out of discovery's `scopes_supported`.
    #[serde(default)]
    hidden: bool,
}

/// The scope a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ScopePath {
    /// Its name.
    name: String,
}

/// List the scopes.
#[utoipa::path(
    get,
    path = ADMIN_SCOPES_PATH,
    tag = "scopes",
    responses((status = 200, description = "Every scope.", body = [ScopeView])),
)]
pub async fn list_scopes(State(state): State<AppState>, _admin: Admin) -> Answer {
    let scopes = state
        .store
        .list_scopes()
        .await
        .map_err(|err| OAuthError::from(err).into_response())?;
    Ok(Json(scopes.iter().map(ScopeView::from).collect::<Vec<_>>()).into_response())
}

/// Create a scope.
///
/// As `scope create`.
#[utoipa::path(
    post,
    path = ADMIN_SCOPES_PATH,
    tag = "scopes",
    request_body = ScopeInput,
    responses((status = 201, description = "The new scope.", body = ScopeView)),
)]
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

/// Delete a scope.
///
/// An OpenID Connect scope, or one a client is allowed, is refused (`400`).
#[utoipa::path(
    delete,
    path = ADMIN_SCOPE_PATH,
    tag = "scopes",
    params(ScopePath),
    responses((status = 204, description = "The scope is deleted.")),
)]
pub async fn delete_scope(
    State(state): State<AppState>,
    admin: Admin,
    Path(ScopePath { name }): Path<ScopePath>,
) -> Answer {
    admin_scope::delete(state.store.as_ref(), &name)
        .await
        .map_err(IntoResponse::into_response)?;
    let event = change(&state, &admin.0, "scope", "deleted", &name);
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// List the signing keys.
///
/// As `keys list --json` shows them: never a private key.
#[utoipa::path(
    get,
    path = ADMIN_KEYS_PATH,
    tag = "keys",
    responses((status = 200, description = "Every signing key.", body = [KeyView])),
)]
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeyRotation)]
pub struct RotateInput {
    /// `RS256` (default), `ES256` or `EdDSA`.
    #[serde(default)]
    alg: Option<String>,
}

/// A rotation done.
#[derive(Serialize, ToSchema)]
#[schema(as = KeyRotated)]
pub struct Rotated<'a> {
    /// The algorithm rotated.
    alg: &'a str,
    /// The `kid` of the key that signs now.
    active_kid: &'a str,
}

/// Rotate the signing key of an algorithm.
///
/// As `keys rotate`: this instance signs with the new key at once, the others at their next key
/// refresh.
#[utoipa::path(
    post,
    path = ADMIN_KEYS_ROTATE_PATH,
    tag = "keys",
    request_body = RotateInput,
    responses((status = 200, description = "The key that signs now.", body = Rotated)),
)]
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
    Ok(Json(Rotated {
        alg: alg.as_str(),
        active_kid: &kid,
    })
    .into_response())
}
