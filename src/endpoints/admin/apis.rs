//! The admin API's APIs (resource servers): `/admin/v1/apis…`. An API's audience is a URI: in a
//! path it is percent-encoded (`/admin/v1/apis/https%3A%2F%2Forders.example.com`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Admin, body, change};
use crate::admin::AdminError;
use crate::admin::api::{self as admin_api, ApiChanges, NewApi, view};
use crate::audit;
use crate::domain::api::Api;
use crate::error::OAuthError;
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiInput {
    audience: String,
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    token_ttl: Option<String>,
    #[serde(default)]
    token_alg: Option<String>,
    #[serde(default)]
    token_format: Option<String>,
    #[serde(default)]
    rbac: bool,
}

/// What to change of an API: `api update`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiChangesInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    token_ttl: Option<String>,
    #[serde(default)]
    token_alg: Option<String>,
    #[serde(default)]
    token_format: Option<String>,
    #[serde(default)]
    rbac: Option<bool>,
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

/// `GET /admin/v1/apis`.
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

/// `GET /admin/v1/apis/{audience}`.
pub async fn show_api(
    State(state): State<AppState>,
    _admin: Admin,
    Path(audience): Path<String>,
) -> Answer {
    let api = admin_api::find(state.store.as_ref(), &audience)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(shown(&state, &api).await?).into_response())
}

/// `POST /admin/v1/apis`: 201.
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

/// `PATCH /admin/v1/apis/{audience}`: the fields given change, the others stay.
pub async fn update_api(
    State(state): State<AppState>,
    admin: Admin,
    Path(audience): Path<String>,
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

/// `DELETE /admin/v1/apis/{audience}`: 204.
pub async fn delete_api(
    State(state): State<AppState>,
    admin: Admin,
    Path(audience): Path<String>,
) -> Answer {
    let api = admin_api::delete(state.store.as_ref(), &audience)
        .await
        .map_err(IntoResponse::into_response)?;
    let event = change(&state, &admin.0, "api", "deleted", api.audience.as_str());
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
