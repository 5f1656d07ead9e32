//! The admin API's groups, their members and their roles: `/admin/v1/groups…`, with the CLI's rules
//! (`admin::group`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, change, recorded};
use crate::admin::Change;
use crate::admin::group as admin_group;
use crate::admin::role as admin_role;
use crate::domain::group::Group;
use crate::error::OAuthError;
use crate::paths::{
    ADMIN_GROUP_MEMBER_PATH, ADMIN_GROUP_PATH, ADMIN_GROUP_ROLE_PATH, ADMIN_GROUPS_PATH,
};
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

fn refused(err: impl IntoResponse) -> Response {
    err.into_response()
}

/// A group to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GroupRegistration)]
pub struct GroupInput {
    /// Its name.
    name: String,
}

/// The group a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupPath {
    /// Its name.
    name: String,
}

/// The membership a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupMemberPath {
    /// The group's name.
    name: String,
    /// The user's username (case-insensitive).
    username: String,
}

/// The role link of a group a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupRolePath {
    /// The group's name.
    name: String,
    /// The role's name.
    role: String,
}

/// A group as the admin API answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Group)]
pub struct GroupView<'a> {
    /// Its name, as tokens carry it in `groups` (RFC 9068 §2.2.3.1).
    name: &'a str,
    /// When it was created (seconds since the epoch).
    created_at: i64,
}

impl<'a> From<&'a Group> for GroupView<'a> {
    fn from(group: &'a Group) -> Self {
        Self {
            name: group.name.as_str(),
            created_at: group.created_at,
        }
    }
}

/// A group, with its members and roles.
#[derive(Serialize, ToSchema)]
#[schema(as = GroupWithContents)]
pub struct GroupShown<'a> {
    #[serde(flatten)]
    group: GroupView<'a>,
    /// Its members, by username, sorted.
    members: &'a [String],
    /// The roles its members hold through it, sorted.
    roles: Vec<&'a str>,
}

/// A membership changed.
#[derive(Serialize, ToSchema)]
pub struct GroupMemberChanged<'a> {
    /// The group's name.
    group: &'a str,
    /// The user's username.
    username: &'a str,
    /// `member_added` or `member_removed`.
    action: &'a str,
}

/// A group's role link changed.
#[derive(Serialize, ToSchema)]
pub struct GroupRoleChanged<'a> {
    /// The group's name.
    group: &'a str,
    /// The role's name.
    role: &'a str,
    /// `role_added` or `role_removed`.
    action: &'a str,
}

/// List the groups.
#[utoipa::path(
    get,
    path = ADMIN_GROUPS_PATH,
    tag = "groups",
    responses((status = 200, description = "Every group.", body = [GroupView])),
)]
pub async fn list_groups(State(state): State<AppState>, _admin: Admin) -> Answer {
    let groups = state
        .store
        .list_groups()
        .await
        .map_err(|err| refused(OAuthError::from(err)))?;
    Ok(Json(groups.iter().map(GroupView::from).collect::<Vec<_>>()).into_response())
}

/// Create a group.
///
/// As `group create`.
#[utoipa::path(
    post,
    path = ADMIN_GROUPS_PATH,
    tag = "groups",
    request_body = GroupInput,
    responses((status = 201, description = "The new group.", body = GroupView)),
)]
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
    let view = GroupView::from(&group);
    recorded(
        &state,
        event,
        (StatusCode::CREATED, Json(view)).into_response(),
    )
    .await
}

/// Show a group, with its members and roles.
#[utoipa::path(
    get,
    path = ADMIN_GROUP_PATH,
    tag = "groups",
    params(GroupPath),
    responses((status = 200, description = "The group and its contents.", body = GroupShown)),
)]
pub async fn show_group(
    State(state): State<AppState>,
    _admin: Admin,
    Path(GroupPath { name }): Path<GroupPath>,
) -> Answer {
    let name = admin_group::parse_name(&name).map_err(refused)?;
    let (group, contents) = admin_group::show(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let shown = GroupShown {
        group: GroupView::from(&group),
        members: &contents.members,
        roles: contents.roles.iter().map(|r| r.as_str()).collect(),
    };
    Ok(Json(shown).into_response())
}

/// Delete a group, with its memberships and role links.
#[utoipa::path(
    delete,
    path = ADMIN_GROUP_PATH,
    tag = "groups",
    params(GroupPath),
    responses((status = 204, description = "The group is deleted.")),
)]
pub async fn delete_group(
    State(state): State<AppState>,
    admin: Admin,
    Path(GroupPath { name }): Path<GroupPath>,
) -> Answer {
    let name = admin_group::parse_name(&name).map_err(refused)?;
    admin_group::delete(state.store.as_ref(), &name)
        .await
        .map_err(refused)?;
    let event = change(&state, &admin.0, "group", "deleted", name.as_str());
    recorded(&state, event, StatusCode::NO_CONTENT.into_response()).await
}

/// Make a user a member of a group.
///
/// As `group add-member`; a user who is already a member is refused (`400`).
#[utoipa::path(
    put,
    path = ADMIN_GROUP_MEMBER_PATH,
    tag = "groups",
    params(GroupMemberPath),
    responses((status = 200, description = "The user is a member.", body = GroupMemberChanged)),
)]
pub async fn add_group_member(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<GroupMemberPath>,
) -> Answer {
    group_member(&state, &admin, path, Change::Add).await
}

/// Take a user out of a group.
///
/// As `group remove-member`; a user who is not a member is refused (`400`).
#[utoipa::path(
    delete,
    path = ADMIN_GROUP_MEMBER_PATH,
    tag = "groups",
    params(GroupMemberPath),
    responses((status = 200, description = "The user is out.", body = GroupMemberChanged)),
)]
pub async fn remove_group_member(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<GroupMemberPath>,
) -> Answer {
    group_member(&state, &admin, path, Change::Remove).await
}

/// Add or remove a member.
async fn group_member(
    state: &AppState,
    admin: &Admin,
    path: GroupMemberPath,
    link: Change,
) -> Answer {
    let group = admin_group::parse_name(&path.name).map_err(refused)?;
    let action = link.action("member");
    let user = admin_group::member(state.store.as_ref(), &group, &path.username, link).await;
    let user = user.map_err(refused)?;
    let event = change(state, &admin.0, "group", &action, group.as_str())
        .user(user.user_id.to_string())
        .with("username", user.username.as_str());
    let answer = GroupMemberChanged {
        group: group.as_str(),
        username: &user.username,
        action: &action,
    };
    recorded(state, event, Json(answer).into_response()).await
}

/// Give every member of a group a role.
///
/// As `group add-role`; a role the group already has is refused (`400`).
#[utoipa::path(
    put,
    path = ADMIN_GROUP_ROLE_PATH,
    tag = "groups",
    params(GroupRolePath),
    responses((status = 200, description = "The role is given.", body = GroupRoleChanged)),
)]
pub async fn add_group_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<GroupRolePath>,
) -> Answer {
    group_role(&state, &admin, path, Change::Add).await
}

/// Take a role from a group.
///
/// As `group remove-role`; a role the group does not have is refused (`400`).
#[utoipa::path(
    delete,
    path = ADMIN_GROUP_ROLE_PATH,
    tag = "groups",
    params(GroupRolePath),
    responses((status = 200, description = "The role is taken.", body = GroupRoleChanged)),
)]
pub async fn remove_group_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(path): Path<GroupRolePath>,
) -> Answer {
    group_role(&state, &admin, path, Change::Remove).await
}

/// Give or take a group's role.
async fn group_role(state: &AppState, admin: &Admin, path: GroupRolePath, link: Change) -> Answer {
    let group = admin_group::parse_name(&path.name).map_err(refused)?;
    let role = admin_role::parse_name(&path.role).map_err(refused)?;
    let action = link.action("role");
    let done = admin_group::group_role(state.store.as_ref(), &group, &role, link).await;
    done.map_err(refused)?;
    let event =
        change(state, &admin.0, "group", &action, group.as_str()).with("role", role.as_str());
    let answer = GroupRoleChanged {
        group: group.as_str(),
        role: role.as_str(),
        action: &action,
    };
    recorded(state, event, Json(answer).into_response()).await
}
