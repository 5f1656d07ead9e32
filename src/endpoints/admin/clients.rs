//! The admin API's clients: `/admin/v1/clients…`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, body, changed};
use crate::admin::client::{self as admin_client, ClientView, registration};
use crate::admin::{AdminError, find_client};
use crate::domain::client::ClientSpec;
use crate::error::OAuthError;
use crate::state::AppState;

/// A client registration as JSON: the CLI's option names with `_` for `-`, lists under their plural.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// `--client-id` (create only; default: generated).
    #[serde(default)]
    client_id: Option<String>,
    /// `--name`.
    name: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    auth_method: Option<String>,
    #[serde(default)]
    skip_consent: bool,
    #[serde(default)]
    introspect_any: bool,
    #[serde(default)]
    allow_no_pkce: bool,
    #[serde(default)]
    id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    application_type: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    default_resource: Option<String>,
    #[serde(default)]
    api: Option<String>,
    #[serde(default)]
    may_exchange_for: Vec<String>,
}

impl ClientInput {
    fn spec(self) -> ClientSpec {
        ClientSpec {
            client_name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scope: self.scope,
            auth_method: self
                .auth_method
                .unwrap_or_else(|| "client_secret_basic".to_owned()),
            allow_no_pkce: self.allow_no_pkce,
            skip_consent: self.skip_consent,
            introspect_any: self.introspect_any,
            id_token_alg: self.id_token_signed_response_alg,
            application_type: Some(self.application_type.unwrap_or_else(|| "web".to_owned())),
            resources: self.resources,
            default_resource: self.default_resource,
            api: self.api,
            may_exchange_for: self.may_exchange_for,
        }
    }
}

/// `GET /admin/v1/clients`.
pub async fn list_clients(State(state): State<AppState>, _admin: Admin) -> Response {
    match state.store.list_clients().await {
        Ok(clients) => {
            Json(clients.iter().map(ClientView::from).collect::<Vec<_>>()).into_response()
        }
        Err(err) => OAuthError::from(err).into_response(),
    }
}

/// `GET /admin/v1/clients/{client_id}`: the client with its roles, as `client show` prints it.
pub async fn show_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(client_id): Path<String>,
) -> Response {
    let shown = async {
        let client = find_client(state.store.as_ref(), &client_id).await?;
        let roles = state.store.find_client_roles(&client.client_id).await?;
        let mut view = serde_json::to_value(ClientView::from(&client)).unwrap_or_default();
        view["roles"] = json!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>());
        Ok::<_, AdminError>(view)
    };
    match shown.await {
        Ok(view) => Json(view).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `POST /admin/v1/clients`: 201 with the registration and, for a confidential client, its secret
/// (shown once).
pub async fn create_client(
    State(state): State<AppState>,
    Admin(admin): Admin,
    input: Result<Json<ClientInput>, JsonRejection>,
) -> Response {
    let input = match body(input) {
        Ok(input) => input,
        Err(refused) => return refused.into_response(),
    };
    let client_id = input.client_id.clone();
    let now = state.clock.now();
    let (client, secret) = match admin_client::create(
        state.store.as_ref(),
        client_id.as_deref(),
        &input.spec(),
        now,
    )
    .await
    {
        Ok(created) => created,
        Err(err) => return err.into_response(),
    };
    let id = client.client_id.to_string();
    changed(
        &state,
        &admin,
        "created",
        &id,
        json!({ "client": registration(&client) }),
    )
    .await;
    let mut view = serde_json::to_value(ClientView::from(&client)).unwrap_or_default();
    if let Some(secret) = &secret {
        view["client_secret"] = json!(secret.expose());
    }
    (StatusCode::CREATED, Json(view)).into_response()
}

/// `PUT /admin/v1/clients/{client_id}`: replace the registration (its id and secret stay).
pub async fn update_client(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(client_id): Path<String>,
    input: Result<Json<ClientInput>, JsonRejection>,
) -> Response {
    let input = match body(input) {
        Ok(input) => input,
        Err(refused) => return refused.into_response(),
    };
    let result = async {
        let existing = find_client(state.store.as_ref(), &client_id).await?;
        if input
            .client_id
            .as_deref()
            .is_some_and(|id| id != existing.client_id.as_str())
        {
            return Err(AdminError::Invalid(
                "a client's id cannot change; delete and re-create it".into(),
            ));
        }
        let updated = admin_client::update(
            state.store.as_ref(),
            &existing,
            &input.spec(),
            state.clock.now(),
        )
        .await?;
        Ok((existing, updated))
    }
    .await;
    match result {
        Ok((existing, updated)) => {
            changed(
                &state,
                &admin,
                "updated",
                existing.client_id.as_str(),
                json!({ "before": registration(&existing), "after": registration(&updated) }),
            )
            .await;
            Json(ClientView::from(&updated)).into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// `DELETE /admin/v1/clients/{client_id}`: 204.
pub async fn delete_client(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(client_id): Path<String>,
) -> Response {
    match admin_client::delete(state.store.as_ref(), &client_id).await {
        Ok(id) => {
            changed(&state, &admin, "deleted", id.as_str(), json!({})).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// `POST /admin/v1/clients/{client_id}/secret`: a new secret, shown once; the old one stops working.
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(client_id): Path<String>,
) -> Response {
    match admin_client::rotate_secret(state.store.as_ref(), &client_id, state.clock.now()).await {
        Ok((client, secret)) => {
            let id = client.client_id.to_string();
            changed(&state, &admin, "secret_rotated", &id, json!({})).await;
            Json(json!({ "client_id": id, "client_secret": secret.expose() })).into_response()
        }
        Err(err) => err.into_response(),
    }
}
