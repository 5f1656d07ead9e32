//! The admin API's roles, and the roles users and clients hold directly: `/admin/v1/roles…`,
//! `/admin/v1/users/{username}/roles/{role}`, `/admin/v1/clients/{client_id}/roles/{role}`, with the
//! CLI's rules (`admin::role`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, change, recorded};
use crate::admin::Change;
use crate::admin::role::{self as admin_role, NewRole, RoleView};
use crate::error::OAuthError;
use crate::paths::{
    ADMIN_CLIENT_ROLE_PATH, ADMIN_ROLE_PATH, ADMIN_ROLES_PATH, ADMIN_USER_ROLE_PATH,
};
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

fn refused(err: impl IntoResponse) -> Response {
    err.into_response()
}

/// A role to create: `role create`'s options.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RoleRegistration)]
pub struct RoleInput {
    /// Its name, as tokens carry it in `roles` (RFC 9068 §2.2.3.1).
    name: String,
    /// Shown to operators (at most 200 characters).
    #[serde(default)]
    description: Option<String>,
    /// The API it belongs to, by audience.
    #[serde(default)]
    api: Option<String>,
    /// The scopes it grants: each a scope of an API (of its own API when it has one).
    #[serde(default)]
    scopes: Vec<String>,
    /// Its holders' sign-ins need two factors (`urn:latchkey:acr:mfa`).
    #[serde(default)]
    require_mfa: bool,
}

/// What `role update` changes: each field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RoleChange)]
pub struct RoleChangeInput {
    /// A new description (`""` removes it).
    #[serde(default)]
    description: Option<String>,
    /// Whether its holders' sign-ins need two factors.
    #[serde(default)]
    require_mfa: Option<bool>,
}

/// The role a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RolePath {
    /// Its name.
    name: String,
}

/// The role link of a user a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserRolePath {
    /// The user's username (case-insensitive).
    username: String,
    /// The role's name.
    role: String,
}

/// The role link of a client a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientRolePath {
    /// The client's `client_id`.
    client_id: String,
    /// The role's name.
    role: String,
}

/// A role, with who holds it.
#[derive(Serialize, ToSchema)]
#[schema(as = RoleWithHolders)]
pub struct RoleShown<'a> {
    #[serde(flatten)]
    role: RoleView<'a>,
    /// The users holding it directly, by username, sorted.
    users: &'a [String],
    /// The clients holding it, by `client_id`, sorted.
    clients: Vec<&'a str>,
    /// The groups holding it, sorted.
    groups: Vec<&'a str>,
}

/// A user's role link changed.
#[derive(Serialize, ToSchema)]
pub struct UserRoleChanged<'a> {
    /// The user's username.
    username: &'a str,
    /// The role's name.
    role: &'a str,
    /// `role_added` or `role_removed`.
    action: &'a str,
}

/// A client's role link changed.
#[derive(Serialize, ToSchema)]
pub struct ClientRoleChanged<'a> {
    /// The client's `client_id`.
    client_id: &'a str,
    /// The role's name.
    role: &'a str,
    /// `role_added` or `role_removed`.
    action: &'a str,
}

/// List the roles.
#[utoipa::path(
    get,
    path = ADMIN_ROLES_PATH,
    tag = "roles",
    responses((status = 200, description = "Every role.", body = [RoleView])),
)]
pub async fn list_roles(State(state): State<AppState>, _admin: Admin) -> Answer {
    let roles = state
        .store
        .list_roles()
        .await
        .map_err(|err| refused(OAuthError::from(err)))?;
    Ok(Json(roles.iter().map(RoleView::from).collect::<Vec<_>>()).into_response())
}

/// Create a role.
///
/// As `role create`.
#[utoipa::path(
    post,
    path = ADMIN_ROLES_PATH,
    tag = "roles",
    request_body = RoleInput,
    responses((status = 201, description = "The new role.", body = RoleView)),
)]
pub async fn create_role(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<RoleInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(refused)?;
    let name = admin_role::parse_name(&input.name).map_err(refused)?;
    let new = NewRole {
        description: input.description.as_deref(),
        api: input.api.as_deref(),
        scopes: &input.scopes,
        require_mfa: input.require_mfa,
    };
    let role = admin_role::create(state.store.as_ref(), name, new, state.clock.now())
        .await
        .map_err(refused)?;
    let view = serde_json::to_value(RoleView::from(&role)).unwrap_or_default();
    let event =
        change(&state, &admin.0, "role", "created", role.name.as_str()).with("role", view.clone());
    recorded(
        &state,
        event,
        (StatusCode::CREATED, Json(view)).into_response(),
    )
    .await
}

/// Show a role, with the users, clients and groups holding it.
#[utoipa::path(
    get,
    path = ADMIN_ROLE_PATH,
    tag = "roles",
    params(RolePath),
    responses((status = 200, description = "The role and its holders.", body = RoleShown)),
)]
pub async fn show_role(
    State(state): State<AppState>,
    _admin: Admin,
    Path(RolePath { name }): Path<RolePath>,
) -> Answer {
    let name = admin_role::parse_name(&name).map_err(refused)?;
    let (role, holders) = admin_role::show(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let shown = RoleShown {
        role: RoleView::from(&role),
        users: &holders.users,
        clients: holders.clients.iter().map(|c| c.as_str()).collect(),
        groups: holders.groups.iter().map(|g| g.as_str()).collect(),
    };
    Ok(Json(shown).into_response())
}

/// Change a role.
///
/// As `role update`: its description, or whether its holders need two factors; its API and scopes
/// stay.
#[utoipa::path(
    patch,
    path = ADMIN_ROLE_PATH,
    tag = "roles",
    params(RolePath),
    request_body = RoleChangeInput,
    responses((status = 200, description = "The role as it now is.", body = RoleView)),
)]
pub async fn update_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(RolePath { name }): Path<RolePath>,
    input: Result<Json<RoleChangeInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(refused)?;
    let name = admin_role::parse_name(&name).map_err(refused)?;
    let before = admin_role::find(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let wanted = admin_role::RoleUpdate {
        description: input.description.as_deref(),
        require_mfa: input.require_mfa,
    };
    let role = admin_role::update(state.store.as_ref(), &name, wanted)
        .await
        .map_err(refused)?;
    let view = serde_json::to_value(RoleView::from(&role)).unwrap_or_default();
    let event = change(&state, &admin.0, "role", "updated", role.name.as_str())
        .with(
            "before",
            serde_json::to_value(RoleView::from(&before)).unwrap_or_default(),
        )
        .with("after", view.clone());
    recorded(&state, event, Json(view).into_response()).await
}

/// Delete a role, and every link granting it.
#[utoipa::path(
    delete,
    path = ADMIN_ROLE_PATH,
    tag = "roles",
    params(RolePath),
    responses((status = 204, description = "The role is deleted.")),
)]
pub async fn delete_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(RolePath { name }): Path<RolePath>,
) -> Answer {
    let name = admin_role::parse_name(&name).map_err(refused)?;
    admin_role::delete(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let event = change(&state, &admin.0, "role", "deleted", name.as_str());
    recorded(&state, event, StatusCode::NO_CONTENT.into_response()).await
}

/// Give a user a role directly.
///
/// As `user add-role`; a role the user already holds directly is refused (`400`).
#[utoipa::path(
    put,
    path = ADMIN_USER_ROLE_PATH,
    tag = "roles",
    params(UserRolePath),
    responses((status = 200, description = "The role is given.", body = UserRoleChanged)),
)]
pub async fn add_user_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<UserRolePath>,
) -> Answer {
    user_role(&state, &admin, path, Change::Add).await
}

/// Take a role a user holds directly (roles held through a group stay).
///
/// As `user remove-role`; a role the user does not hold directly is refused (`400`).
#[utoipa::path(
    delete,
    path = ADMIN_USER_ROLE_PATH,
    tag = "roles",
    params(UserRolePath),
    responses((status = 200, description = "The role is taken.", body = UserRoleChanged)),
)]
pub async fn remove_user_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<UserRolePath>,
) -> Answer {
    user_role(&state, &admin, path, Change::Remove).await
}

/// Give or take a role a user holds directly.
async fn user_role(state: &AppState, admin: &Admin, path: UserRolePath, link: Change) -> Answer {
    let role = admin_role::parse_name(&path.role).map_err(refused)?;
    let action = link.action("role");
    let user = admin_role::user_role(state.store.as_ref(), &path.username, &role, link).await;
    let user = user.map_err(refused)?;
    let event = change(state, &admin.0, "user", &action, &user.username)
        .user(user.user_id.to_string())
        .with("role", role.as_str());
    let answer = UserRoleChanged {
        username: &user.username,
        role: role.as_str(),
        action: &action,
    };
    recorded(state, event, Json(answer).into_response()).await
}

/// Give a (service) client a role: its client-credentials tokens carry it.
///
/// As `client add-role`; a role the client already has is refused (`400`).
#[utoipa::path(
    put,
    path = ADMIN_CLIENT_ROLE_PATH,
    tag = "roles",
    params(ClientRolePath),
    responses((status = 200, description = "The role is given.", body = ClientRoleChanged)),
)]
pub async fn add_client_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<ClientRolePath>,
) -> Answer {
    client_role(&state, &admin, path, Change::Add).await
}

/// Take a role from a client.
///
/// As `client remove-role`; a role the client does not have is refused (`400`).
#[utoipa::path(
    delete,
    path = ADMIN_CLIENT_ROLE_PATH,
    tag = "roles",
    params(ClientRolePath),
    responses((status = 200, description = "The role is taken.", body = ClientRoleChanged)),
)]
pub async fn remove_client_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<ClientRolePath>,
) -> Answer {
    client_role(&state, &admin, path, Change::Remove).await
}

/// Give or take a client's role.
async fn client_role(
    state: &AppState,
    admin: &Admin,
    path: ClientRolePath,
    link: Change,
) -> Answer {
    let role = admin_role::parse_name(&path.role).map_err(refused)?;
    let action = link.action("role");
    let client = admin_role::client_role(state.store.as_ref(), &path.client_id, &role, link).await;
    let client = client.map_err(refused)?;
    let id = client.client_id.to_string();
    let event = change(state, &admin.0, "client", &action, &id)
        .client(id.clone())
        .with("role", role.as_str());
    let answer = ClientRoleChanged {
        client_id: &id,
        role: role.as_str(),
        action: &action,
    };
    recorded(state, event, Json(answer).into_response()).await
}
