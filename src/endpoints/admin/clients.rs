//! The admin API's clients: `/admin/v1/clients…`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, changed};
use crate::admin::client::{self as admin_client, ClientView, registration};
use crate::admin::{AdminError, find_client};
use crate::domain::client::ClientSpec;
use crate::error::OAuthError;
use crate::paths::{ADMIN_CLIENT_PATH, ADMIN_CLIENT_SECRET_PATH, ADMIN_CLIENTS_PATH};
use crate::state::AppState;

/// A client registration as JSON: the CLI's option names with `_` for `-`, lists under their plural.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClientRegistration)]
pub struct ClientInput {
    /// Its `client_id` (create only; default: 128 random bits): 1–128 characters of
    /// `A-Z a-z 0-9 . _ - :`. On `PUT`, if given, it must be the client's own.
    #[serde(default)]
    client_id: Option<String>,
    /// Its display name, shown on the consent page (1–200 characters).
    name: String,
    /// Its redirect URIs (RFC 6749 §3.1.2); `authorization_code` needs at least one.
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Its post-logout redirect URIs (OIDC RP-Initiated Logout 1.0 §3).
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// `authorization_code`, `client_credentials`, `refresh_token`, `token_exchange`. Default:
    /// `client_credentials` for a confidential client without redirect URIs, else
    /// `authorization_code`.
    #[serde(default)]
    grant_types: Vec<String>,
    /// The scopes it may request, space-delimited; each must exist.
    #[serde(default)]
    scope: String,
    /// `client_secret_basic` (default), `client_secret_post`, `client_secret_jwt`, `private_key_jwt`,
    /// or `none` for a public client.
    #[serde(default)]
    auth_method: Option<String>,
    /// A first-party client: users are not asked for consent.
    #[serde(default)]
    skip_consent: bool,
    /// A resource server that may introspect any token.
    #[serde(default)]
    introspect_any: bool,
    /// `--require-par`: sign-ins only through pushed authorization requests (RFC 9126 §6).
    #[serde(default)]
    require_par: bool,
    /// `--require-dpop`: every token request must carry a DPoP proof (RFC 9449 §5.2).
    #[serde(default)]
    require_dpop: bool,
    /// `--require-mfa`: sign-ins for this client need two factors.
    #[serde(default)]
    require_mfa: bool,
    /// `--tls-client-certificate-bound-access-tokens` (RFC 8705 §3.4).
    #[serde(default)]
    tls_client_certificate_bound_access_tokens: bool,
    /// `--tls-client-auth-subject-dn` (RFC 8705 §2.1.2, with `tls_client_auth`).
    #[serde(default)]
    tls_client_auth_subject_dn: Option<String>,
    /// `--tls-client-auth-san-dns` (RFC 8705 §2.1.2, with `tls_client_auth`).
    #[serde(default)]
    tls_client_auth_san_dns: Option<String>,
    /// `--tls-client-auth-san-uri` (RFC 8705 §2.1.2, with `tls_client_auth`).
    #[serde(default)]
    tls_client_auth_san_uri: Option<String>,
    /// `--tls-client-auth-san-ip` (RFC 8705 §2.1.2, with `tls_client_auth`).
    #[serde(default)]
    tls_client_auth_san_ip: Option<String>,
    /// `--tls-client-auth-san-email` (RFC 8705 §2.1.2, with `tls_client_auth`).
    #[serde(default)]
    tls_client_auth_san_email: Option<String>,
    /// `--jwks`: the client's public keys as a JWK set (RFC 7517 §5), for `private_key_jwt`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// `--jwks-uri`: where the client publishes its public keys instead (https).
    #[serde(default)]
    jwks_uri: Option<String>,
    /// `--backchannel-logout-uri`: where the client receives logout tokens (OIDC Back-Channel
    /// Logout §2.2; https, or http for a confidential client).
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
    /// `--backchannel-logout-session-required`: it needs `sid` in logout tokens.
    #[serde(default)]
    backchannel_logout_session_required: bool,
    /// Let a confidential client skip PKCE.
    #[serde(default)]
    allow_no_pkce: bool,
    /// `RS256`, `ES256` or `EdDSA` for its ID tokens (default: the server's).
    #[serde(default)]
    id_token_signed_response_alg: Option<String>,
    /// `web` (default) or `native`.
    #[serde(default)]
    application_type: Option<String>,
    /// The APIs it may name with `resource` (RFC 8707), by audience.
    #[serde(default)]
    resources: Vec<String>,
    /// The API its tokens are for when a request names none.
    #[serde(default)]
    default_resource: Option<String>,
    /// The API whose resource server it is (it may introspect that API's tokens).
    #[serde(default)]
    api: Option<String>,
    /// The APIs it may exchange a user's access token for (RFC 8693).
    #[serde(default)]
    may_exchange_for: Vec<String>,
}

/// The client a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientPath {
    /// Its `client_id`.
    client_id: String,
}

/// A client just registered, with its secret if it is confidential.
#[derive(Serialize, ToSchema)]
pub struct NewClient<'a> {
    #[serde(flatten)]
    client: ClientView<'a>,
    /// Its `client_secret` (a confidential client's), shown this once: only its hash is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    client_secret: Option<&'a str>,
}

/// A client's new secret.
#[derive(Serialize, ToSchema)]
pub struct NewSecret<'a> {
    /// The client's `client_id`.
    client_id: &'a str,
    /// Its new `client_secret`, shown this once: only its hash is kept.
    client_secret: &'a str,
}

impl ClientInput {
    fn spec(self) -> Result<ClientSpec, AdminError> {
        let tls_subject = crate::domain::client::tls_subject_of([
            self.tls_client_auth_subject_dn.as_deref(),
            self.tls_client_auth_san_dns.as_deref(),
            self.tls_client_auth_san_uri.as_deref(),
            self.tls_client_auth_san_ip.as_deref(),
            self.tls_client_auth_san_email.as_deref(),
        ])
        .map_err(|e| AdminError::Invalid(e.0))?;
        Ok(ClientSpec {
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
            require_par: self.require_par,
            require_dpop: self.require_dpop,
            require_mfa: self.require_mfa,
            tls_bound_tokens: self.tls_client_certificate_bound_access_tokens,
            tls_subject,
            jwks: self.jwks.map(|set| set.to_string()),
            jwks_uri: self.jwks_uri,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_alg: self.id_token_signed_response_alg,
            application_type: Some(self.application_type.unwrap_or_else(|| "web".to_owned())),
            resources: self.resources,
            default_resource: self.default_resource,
            api: self.api,
            may_exchange_for: self.may_exchange_for,
        })
    }
}

/// List the clients.
///
/// As `client list --json` shows them: never a secret or its hash.
#[utoipa::path(
    get,
    path = ADMIN_CLIENTS_PATH,
    tag = "clients",
    responses((status = 200, description = "Every client.", body = [ClientView])),
)]
pub async fn list_clients(State(state): State<AppState>, _admin: Admin) -> Response {
    match state.store.list_clients().await {
        Ok(clients) => {
            Json(clients.iter().map(ClientView::from).collect::<Vec<_>>()).into_response()
        }
        Err(err) => OAuthError::from(err).into_response(),
    }
}

/// A client with its roles, as `client show --json` prints it.
#[derive(Serialize, ToSchema)]
#[schema(as = ClientWithRoles)]
pub struct ClientDetail<'a> {
    #[serde(flatten)]
    client: ClientView<'a>,
    /// The roles its client-credentials tokens carry (RFC 9068 §2.2.3.1).
    roles: Vec<&'a str>,
}

/// Show a client.
///
/// With its roles, as `client show`.
#[utoipa::path(
    get,
    path = ADMIN_CLIENT_PATH,
    tag = "clients",
    params(ClientPath),
    responses((status = 200, description = "The client, with its roles.", body = ClientDetail)),
)]
pub async fn show_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(ClientPath { client_id }): Path<ClientPath>,
) -> Response {
    let found = async {
        let client = find_client(state.store.as_ref(), &client_id).await?;
        let roles = state.store.find_client_roles(&client.client_id).await?;
        Ok::<_, AdminError>((client, roles))
    };
    match found.await {
        Ok((client, roles)) => Json(ClientDetail {
            client: ClientView::from(&client),
            roles: roles.iter().map(|r| r.as_str()).collect(),
        })
        .into_response(),
        Err(err) => err.into_response(),
    }
}

/// Register a client.
///
/// With `client create`'s rules and messages; an unknown field is refused.
#[utoipa::path(
    post,
    path = ADMIN_CLIENTS_PATH,
    tag = "clients",
    request_body = ClientInput,
    responses((
        status = 201,
        description = "The new client, with its secret if it is confidential (shown once).",
        body = NewClient,
    )),
)]
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
    let spec = match input.spec() {
        Ok(spec) => spec,
        Err(err) => return err.into_response(),
    };
    let (client, secret) = match admin_client::create(
        state.store.as_ref(),
        Some(state.keys.kek()),
        client_id.as_deref(),
        &spec,
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
    let created = NewClient {
        client: ClientView::from(&client),
        client_secret: secret.as_ref().map(|secret| secret.expose()),
    };
    (StatusCode::CREATED, Json(created)).into_response()
}

/// Replace a client's registration.
///
/// With the body of a registration; its id and secret stay.
#[utoipa::path(
    put,
    path = ADMIN_CLIENT_PATH,
    tag = "clients",
    params(ClientPath),
    request_body = ClientInput,
    responses((status = 200, description = "The client as registered now.", body = ClientView)),
)]
pub async fn update_client(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(ClientPath { client_id }): Path<ClientPath>,
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
        let spec = input.spec()?;
        let updated =
            admin_client::update(state.store.as_ref(), &existing, &spec, state.clock.now()).await?;
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

/// Delete a client.
///
/// With every grant, code and refresh token issued to it.
#[utoipa::path(
    delete,
    path = ADMIN_CLIENT_PATH,
    tag = "clients",
    params(ClientPath),
    responses((status = 204, description = "The client is deleted.")),
)]
pub async fn delete_client(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(ClientPath { client_id }): Path<ClientPath>,
) -> Response {
    match admin_client::delete(state.store.as_ref(), &client_id).await {
        Ok(id) => {
            changed(&state, &admin, "deleted", id.as_str(), json!({})).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// Give a confidential client a new secret.
///
/// The old secret stops working at once; a public client has none (`400`).
#[utoipa::path(
    post,
    path = ADMIN_CLIENT_SECRET_PATH,
    tag = "clients",
    params(ClientPath),
    responses((status = 200, description = "The new secret, shown this once.", body = NewSecret)),
)]
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(ClientPath { client_id }): Path<ClientPath>,
) -> Response {
    let kek = Some(state.keys.kek());
    match admin_client::rotate_secret(state.store.as_ref(), kek, &client_id, state.clock.now())
        .await
    {
        Ok((client, secret)) => {
            let id = client.client_id.to_string();
            changed(&state, &admin, "secret_rotated", &id, json!({})).await;
            Json(NewSecret {
                client_id: &id,
                client_secret: secret.expose(),
            })
            .into_response()
        }
        Err(err) => err.into_response(),
    }
}
