//! The admin API's roles and groups, and who holds them: `/admin/v1/roles…`, `/admin/v1/groups…`,
//! and the role links of users and clients, with the CLI's rules (`admin::role`, `admin::group`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Admin, body, change};
use crate::admin::Change;
use crate::admin::group as admin_group;
use crate::admin::role::{self as admin_role, NewRole, RoleView};
use crate::audit;
use crate::domain::audit::AuditEvent;
use crate::error::OAuthError;
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

/// A link route's change: `PUT` adds the link, `DELETE` (the only other method routed) removes it.
fn link_change(method: &axum::http::Method) -> Change {
    if method == axum::http::Method::PUT {
        Change::Add
    } else {
        Change::Remove
    }
}

fn refused(err: impl IntoResponse) -> Response {
    err.into_response()
}

/// Record `event` (after the change committed; a failure to record is logged) and answer `answer`.
async fn recorded(state: &AppState, event: AuditEvent, answer: Response) -> Answer {
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(answer)
}

/// A role to create: `role create`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    api: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// A group to create.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    name: String,
}

/// `GET /admin/v1/roles`.
pub async fn list_roles(State(state): State<AppState>, _admin: Admin) -> Answer {
    let roles = state
        .store
        .list_roles()
        .await
        .map_err(|err| refused(OAuthError::from(err)))?;
    Ok(Json(roles.iter().map(RoleView::from).collect::<Vec<_>>()).into_response())
}

/// `POST /admin/v1/roles`: 201.
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

/// `GET /admin/v1/roles/{name}`: the role with the users, clients and groups holding it.
pub async fn show_role(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Answer {
    let name = admin_role::parse_name(&name).map_err(refused)?;
    let (role, holders) = admin_role::show(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let mut view = serde_json::to_value(RoleView::from(&role)).unwrap_or_default();
    view["users"] = json!(holders.users);
    view["clients"] = json!(
        holders
            .clients
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
    );
    view["groups"] = json!(
        holders
            .groups
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
    );
    Ok(Json(view).into_response())
}

/// `DELETE /admin/v1/roles/{name}`: 204.
pub async fn delete_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Answer {
    let name = admin_role::parse_name(&name).map_err(refused)?;
    admin_role::delete(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let event = change(&state, &admin.0, "role", "deleted", name.as_str());
    recorded(&state, event, StatusCode::NO_CONTENT.into_response()).await
}

/// `PUT` / `DELETE /admin/v1/users/{username}/roles/{role}`: give or take a role held directly.
pub async fn user_role(
    State(state): State<AppState>,
    admin: Admin,
    method: axum::http::Method,
    Path((username, role)): Path<(String, String)>,
) -> Answer {
    let role = admin_role::parse_name(&role).map_err(refused)?;
    let store = state.store.as_ref();
    let link = link_change(&method);
    let action = link.action("role");
    let user = admin_role::user_role(store, &username, &role, link).await;
    let user = user.map_err(refused)?;
    let event = change(&state, &admin.0, "user", &action, &user.username)
        .user(user.user_id.to_string())
        .with("role", role.as_str());
    recorded(
        &state,
        event,
        Json(json!({ "username": user.username, "role": role.as_str(), "action": &action }))
            .into_response(),
    )
    .await
}

/// `PUT` / `DELETE /admin/v1/clients/{client_id}/roles/{role}`: give or take a client's role.
pub async fn client_role(
    State(state): State<AppState>,
    admin: Admin,
    method: axum::http::Method,
    Path((client_id, role)): Path<(String, String)>,
) -> Answer {
    let role = admin_role::parse_name(&role).map_err(refused)?;
    let store = state.store.as_ref();
    let link = link_change(&method);
    let action = link.action("role");
    let client = admin_role::client_role(store, &client_id, &role, link).await;
    let client = client.map_err(refused)?;
    let id = client.client_id.to_string();
    let event = change(&state, &admin.0, "client", &action, &id)
        .client(id.clone())
        .with("role", role.as_str());
    recorded(
        &state,
        event,
        Json(json!({ "client_id": id, "role": role.as_str(), "action": &action })).into_response(),
    )
    .await
}

/// `GET /admin/v1/groups`.
pub async fn list_groups(State(state): State<AppState>, _admin: Admin) -> Answer {
    let groups = state
        .store
        .list_groups()
        .await
        .map_err(|err| refused(OAuthError::from(err)))?;
    let views: Vec<_> = groups
        .iter()
        .map(|g| json!({ "name": g.name.as_str(), "created_at": g.created_at }))
        .collect();
    Ok(Json(views).into_response())
}

/// `POST /admin/v1/groups`: 201.
pub async fn create_group(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<GroupInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(refused)?;
    let name = admin_group::parse_name(&input.name).map_err(refused)?;
    let group = admin_group::create(state.store.as_ref(), name, state.clock.now())
        .await
        .map_err(refused)?;
    let event = change(&state, &admin.0, "group", "created", group.name.as_str());
    let view = json!({ "name": group.name.as_str(), "created_at": group.created_at });
    recorded(
        &state,
        event,
        (StatusCode::CREATED, Json(view)).into_response(),
    )
    .await
}

/// `GET /admin/v1/groups/{name}`: the group with its members and roles.
pub async fn show_group(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Answer {
    let name = admin_group::parse_name(&name).map_err(refused)?;
    let (group, contents) = admin_group::show(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    Ok(Json(json!({
        "name": group.name.as_str(),
        "created_at": group.created_at,
        "members": contents.members,
        "roles": contents.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `DELETE /admin/v1/groups/{name}`: 204.
pub async fn delete_group(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Answer {
    let name = admin_group::parse_name(&name).map_err(refused)?;
    admin_group::delete(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let event = change(&state, &admin.0, "group", "deleted", name.as_str());
    recorded(&state, event, StatusCode::NO_CONTENT.into_response()).await
}

/// `PUT` / `DELETE /admin/v1/groups/{name}/members/{username}`.
pub async fn group_member(
    State(state): State<AppState>,
    admin: Admin,
    method: axum::http::Method,
    Path((group, username)): Path<(String, String)>,
) -> Answer {
    let group = admin_group::parse_name(&group).map_err(refused)?;
    let store = state.store.as_ref();
    let link = link_change(&method);
    let action = link.action("member");
    let user = admin_group::member(store, &group, &username, link).await;
    let user = user.map_err(refused)?;
    let event = change(&state, &admin.0, "group", &action, group.as_str())
        .user(user.user_id.to_string())
        .with("username", user.username.as_str());
    recorded(
        &state,
        event,
        Json(json!({ "group": group.as_str(), "username": user.username, "action": &action }))
            .into_response(),
    )
    .await
}

/// `PUT` / `DELETE /admin/v1/groups/{name}/roles/{role}`.
pub async fn group_role(
    State(state): State<AppState>,
    admin: Admin,
    method: axum::http::Method,
    Path((group, role)): Path<(String, String)>,
) -> Answer {
    let group = admin_group::parse_name(&group).map_err(refused)?;
    let role = admin_role::parse_name(&role).map_err(refused)?;
    let store = state.store.as_ref();
    let link = link_change(&method);
    let action = link.action("role");
    let done = admin_group::group_role(store, &group, &role, link).await;
    done.map_err(refused)?;
    let event =
        change(&state, &admin.0, "group", &action, group.as_str()).with("role", role.as_str());
    recorded(
        &state,
        event,
        Json(json!({ "group": group.as_str(), "role": role.as_str(), "action": &action }))
            .into_response(),
    )
    .await
}
