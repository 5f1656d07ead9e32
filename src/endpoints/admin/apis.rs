//! The admin API's APIs (resource servers): `/admin/v1/apis…`. An API's audience is a URI: in a
//! path it is percent-encoded (`/admin/v1/apis/https%3A%2F%2Forders.example.com`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, change};
use crate::admin::AdminError;
use crate::admin::api::{self as admin_api, ApiChanges, ApiView, NewApi, view};
use crate::audit;
use crate::domain::api::Api;
use crate::error::OAuthError;
use crate::paths::{ADMIN_API_PATH, ADMIN_APIS_PATH};
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

/// A duration as the CLI takes it (`90s`, `15m`, `1d`); `0` is the server's default.
fn duration(raw: Option<&str>) -> Result<Option<std::time::Duration>, AdminError> {
    raw.map(|raw| {
        crate::config::parse_duration(raw)
            .map_err(|why| AdminError::Invalid(format!("token_ttl: {why}")))
    })
    .transpose()
}

/// An API to register: `api create`'s options.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiRegistration)]
pub struct ApiInput {
    /// Its audience: an absolute URI without a fragment (RFC 8707 §2).
    audience: String,
    /// Its name.
    name: String,
    /// Its scopes: each created for it, or, if it exists and belongs to no API, attached to it.
    #[serde(default)]
    scopes: Vec<String>,
    /// Its access tokens' lifetime, a duration such as `"1h"` (default: the server's).
    #[serde(default)]
    token_ttl: Option<String>,
    /// Its access tokens' algorithm: `RS256`, `ES256` or `EdDSA` (default: the server's).
    #[serde(default)]
    token_alg: Option<String>,
    /// `jwt` (default) or `opaque` (reference tokens, checked by introspection).
    #[serde(default)]
    token_format: Option<String>,
    /// Role-based scopes.
    #[serde(default)]
    rbac: bool,
}

/// What to change of an API: `api update`'s options; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiUpdate)]
pub struct ApiChangesInput {
    /// A new name.
    #[serde(default)]
    name: Option<String>,
    /// A new token lifetime, a duration such as `"1h"`; `"0"` returns to the server's.
    #[serde(default)]
    token_ttl: Option<String>,
    /// A new token algorithm; `""` returns to the server's.
    #[serde(default)]
    token_alg: Option<String>,
    /// `jwt` or `opaque`.
    #[serde(default)]
    token_format: Option<String>,
    /// Role-based scopes on or off.
    #[serde(default)]
    rbac: Option<bool>,
}

/// The API a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApiPath {
    /// Its audience, percent-encoded (`https%3A%2F%2Forders.example.com`).
    audience: String,
}

/// The API as answered, with its scopes.
async fn shown(state: &AppState, api: &Api) -> Result<serde_json::Value, Response> {
    let scopes = state
        .store
        .list_scopes()
        .await
        .map_err(|err| OAuthError::from(err).into_response())?;
    Ok(serde_json::to_value(view(api, &scopes)).unwrap_or_default())
}

/// List the APIs, with their scopes.
#[utoipa::path(
    get,
    path = ADMIN_APIS_PATH,
    tag = "apis",
    responses((status = 200, description = "Every API.", body = [ApiView])),
)]
pub async fn list_apis(State(state): State<AppState>, _admin: Admin) -> Answer {
    let store = state.store.as_ref();
    let listed = async {
        Ok::<_, crate::store::StoreError>((store.list_apis().await?, store.list_scopes().await?))
    };
    let (apis, scopes) = listed
        .await
        .map_err(|err| OAuthError::from(err).into_response())?;
    let views: Vec<_> = apis.iter().map(|api| view(api, &scopes)).collect();
    Ok(Json(views).into_response())
}

/// Show an API, with its scopes.
#[utoipa::path(
    get,
    path = ADMIN_API_PATH,
    tag = "apis",
    params(ApiPath),
    responses((status = 200, description = "The API.", body = ApiView)),
)]
pub async fn show_api(
    State(state): State<AppState>,
    _admin: Admin,
    Path(ApiPath { audience }): Path<ApiPath>,
) -> Answer {
    let api = admin_api::find(state.store.as_ref(), &audience)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(shown(&state, &api).await?).into_response())
}

/// Register an API (a resource server).
///
/// As `api create`.
#[utoipa::path(
    post,
    path = ADMIN_APIS_PATH,
    tag = "apis",
    request_body = ApiInput,
    responses((status = 201, description = "The new API, with its scopes.", body = ApiView)),
)]
pub async fn create_api(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<ApiInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(IntoResponse::into_response)?;
    let token_alg = input
        .token_alg
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|why: String| AdminError::Invalid(why).into_response())?;
    let new = NewApi {
        audience: input.audience,
        name: input.name,
        scopes: input.scopes,
        token_ttl: duration(input.token_ttl.as_deref()).map_err(IntoResponse::into_response)?,
        token_alg,
        token_format: input.token_format.unwrap_or_else(|| "jwt".to_owned()),
        rbac: input.rbac,
    };
    let api = admin_api::create(state.store.as_ref(), &new, state.clock.now())
        .await
        .map_err(IntoResponse::into_response)?;
    let view = shown(&state, &api).await?;
    let event =
        change(&state, &admin.0, "api", "created", api.audience.as_str()).with("api", view.clone());
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Change an API: the fields given change, the others stay.
///
/// As `api update`.
#[utoipa::path(
    patch,
    path = ADMIN_API_PATH,
    tag = "apis",
    params(ApiPath),
    request_body = ApiChangesInput,
    responses((status = 200, description = "The API as it is now.", body = ApiView)),
)]
pub async fn update_api(
    State(state): State<AppState>,
    admin: Admin,
    Path(ApiPath { audience }): Path<ApiPath>,
    input: Result<Json<ApiChangesInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(IntoResponse::into_response)?;
    let changes = ApiChanges {
        name: input.name,
        token_ttl: duration(input.token_ttl.as_deref()).map_err(IntoResponse::into_response)?,
        token_alg: input.token_alg,
        token_format: input.token_format,
        rbac: input.rbac,
    };
    let api = admin_api::update(state.store.as_ref(), &audience, &changes, state.clock.now())
        .await
        .map_err(IntoResponse::into_response)?;
    let view = shown(&state, &api).await?;
    let event =
        change(&state, &admin.0, "api", "updated", api.audience.as_str()).with("api", view.clone());
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(Json(view).into_response())
}

/// Delete an API.
///
/// Refused (`400`) while a scope or role belongs to it or a client lists it as a resource.
#[utoipa::path(
    delete,
    path = ADMIN_API_PATH,
    tag = "apis",
    params(ApiPath),
    responses((status = 204, description = "The API is deleted.")),
)]
pub async fn delete_api(
    State(state): State<AppState>,
    admin: Admin,
    Path(ApiPath { audience }): Path<ApiPath>,
) -> Answer {
    let api = admin_api::delete(state.store.as_ref(), &audience)
        .await
        .map_err(IntoResponse::into_response)?;
    let event = change(&state, &admin.0, "api", "deleted", api.audience.as_str());
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
