//! Groups (RFC 9068 §2.2.3.1): create, list, show, delete, their members and their roles.

use super::{AdminError, Change, change_link, find_user, role};
use crate::domain::group::{Group, GroupName};
use crate::domain::role::{Assignment, GroupContents, RoleName};
use crate::domain::user::User;
use crate::store::Store;

/// Parse a group name given by an operator.
pub fn parse_name(raw: &str) -> Result<GroupName, AdminError> {
    GroupName::parse(raw).map_err(|e| AdminError::Invalid(e.0))
}

/// Create the group `name`; a duplicate is refused.
pub async fn create(store: &dyn Store, name: GroupName, now: i64) -> Result<Group, AdminError> {
    let group = Group {
        name,
        created_at: now,
    };
    store.create_group(&group).await?;
    Ok(group)
}

/// The group `name`, or an error naming it.
pub async fn find(store: &dyn Store, name: &GroupName) -> Result<Group, AdminError> {
    store
        .find_group(name)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no group named '{name}'")))
}

/// The group `name` with its members and roles.
pub async fn show(
    store: &dyn Store,
    name: &GroupName,
) -> Result<(Group, GroupContents), AdminError> {
    let group = find(store, name).await?;
    let contents = store.find_group_contents(name).await?;
    Ok((group, contents))
}

/// Delete the group `name` (its memberships and role links go with it).
pub async fn delete(store: &dyn Store, name: &GroupName) -> Result<(), AdminError> {
    if !store.delete_group(name).await? {
        return Err(AdminError::NotFound(format!("no group named '{name}'")));
    }
    Ok(())
}

/// Make the user `username` a member of `group`, or take them out; refused if there is nothing to
/// change.
pub async fn member(
    store: &dyn Store,
    group: &GroupName,
    username: &str,
    change: Change,
) -> Result<User, AdminError> {
    find(store, group).await?;
    let user = find_user(store, username).await?;
    let link = Assignment::GroupMember(group.clone(), user.user_id.clone());
    let name = &user.username;
    change_link(store, &link, change, || match change {
        Change::Add => format!(
            "the user '{name}' is already a member of '{group}' (or it was deleted meanwhile)"
        ),
        Change::Remove => format!("the user '{name}' is not a member of '{group}'"),
    })
    .await?;
    Ok(user)
}

/// Give every member of `group` the role `role`, or take it from the group; refused if there is
/// nothing to change.
pub async fn group_role(
    store: &dyn Store,
    group: &GroupName,
    role: &RoleName,
    change: Change,
) -> Result<(), AdminError> {
    find(store, group).await?;
    role::find(store, role).await?;
    let link = Assignment::GroupRole(group.clone(), role.clone());
    change_link(store, &link, change, || match change {
        Change::Add => format!(
            "the group '{group}' already has the role '{role}' (or it was deleted meanwhile)"
        ),
        Change::Remove => format!("the group '{group}' does not have the role '{role}'"),
    })
    .await
}
