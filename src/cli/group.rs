//! `latchkey group …`: groups of users, carried in the `groups` claim (RFC 9068 §2.2.3.1); every
//! member holds the group's roles.

use clap::Subcommand;
use serde::Serialize;

use super::role::list;
use super::{CliError, Context};
use crate::admin::Change;
use crate::admin::{group as admin, role as admin_role};
use crate::clock::format_rfc3339;

/// Group commands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group (1-64 characters of `A-Z a-z 0-9 . _ - :`).
    Create {
        /// The group name.
        name: String,
    },
    /// Add a user to a group.
    AddMember {
        /// The group name.
        group: String,
        /// The username.
        username: String,
    },
    /// Remove a user from a group.
    RemoveMember {
        /// The group name.
        group: String,
        /// The username.
        username: String,
    },
    /// Give every member of a group a role.
    AddRole {
        /// The group name.
        group: String,
        /// The role name.
        role: String,
    },
    /// Take a role from a group.
    RemoveRole {
        /// The group name.
        group: String,
        /// The role name.
        role: String,
    },
    /// List groups.
    List,
    /// Show a group with its members and roles.
    Show {
        /// The group name.
        name: String,
    },
    /// Delete a group; its members lose its roles.
    Delete {
        /// The group name.
        name: String,
    },
}

#[derive(Serialize)]
struct GroupDetail<'a> {
    name: &'a str,
    created_at: i64,
    members: &'a [String],
    roles: Vec<&'a str>,
}

/// Run a group command.
pub async fn run(ctx: &Context, command: GroupCommand) -> Result<(), CliError> {
    let store = ctx.store.as_ref();
    match command {
        GroupCommand::Create { name } => {
            let name = admin::parse_name(&name)?;
            let group = admin::create(store, name, ctx.clock.now()).await?;
            ctx.record(ctx.change("group", "created", group.name.as_str()))
                .await?;
            ctx.print(
                &serde_json::json!({ "name": group.name.as_str(), "created_at": group.created_at }),
                || format!("created group {}", group.name),
            );
        }
        GroupCommand::AddMember { group, username } => {
            let group = admin::parse_name(&group)?;
            let user = admin::member(store, &group, &username, Change::Add).await?;
            ctx.record(
                ctx.change("group", "member_added", group.as_str())
                    .user(user.user_id.to_string())
                    .with("username", user.username.as_str()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "added_member": user.username }),
                || format!("added {} to group {group}", user.username),
            );
        }
        GroupCommand::RemoveMember { group, username } => {
            let group = admin::parse_name(&group)?;
            let user = admin::member(store, &group, &username, Change::Remove).await?;
            ctx.record(
                ctx.change("group", "member_removed", group.as_str())
                    .user(user.user_id.to_string())
                    .with("username", user.username.as_str()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "removed_member": user.username }),
                || format!("removed {} from group {group}", user.username),
            );
        }
        GroupCommand::AddRole { group, role } => {
            let group = admin::parse_name(&group)?;
            let role = admin_role::parse_name(&role)?;
            admin::group_role(store, &group, &role, Change::Add).await?;
            ctx.record(
                ctx.change("group", "role_added", group.as_str())
                    .with("role", role.as_str()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "added_role": role.as_str() }),
                || format!("group {group} now has role {role}"),
            );
        }
        GroupCommand::RemoveRole { group, role } => {
            let group = admin::parse_name(&group)?;
            let role = admin_role::parse_name(&role)?;
            admin::group_role(store, &group, &role, Change::Remove).await?;
            ctx.record(
                ctx.change("group", "role_removed", group.as_str())
                    .with("role", role.as_str()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "removed_role": role.as_str() }),
                || format!("group {group} no longer has role {role}"),
            );
        }
        GroupCommand::List => {
            let groups = store.list_groups().await?;
            let views: Vec<serde_json::Value> = groups
                .iter()
                .map(|g| serde_json::json!({ "name": g.name.as_str(), "created_at": g.created_at }))
                .collect();
            ctx.print(&views, || {
                let mut text = format!("{:<32} {}\n", "NAME", "CREATED");
                for group in &groups {
                    text.push_str(&format!(
                        "{:<32} {}\n",
                        group.name,
                        format_rfc3339(group.created_at)
                    ));
                }
                text
            });
        }
        GroupCommand::Show { name } => {
            let name = admin::parse_name(&name)?;
            let (group, contents) = admin::show(store, &name).await?;
            let roles: Vec<&str> = contents.roles.iter().map(|r| r.as_str()).collect();
            let detail = GroupDetail {
                name: group.name.as_str(),
                created_at: group.created_at,
                members: &contents.members,
                roles: roles.clone(),
            };
            ctx.print(&detail, || {
                format!(
                    "name:    {}\ncreated: {}\nmembers: {}\nroles:   {}\n",
                    group.name,
                    format_rfc3339(group.created_at),
                    list(
                        &contents
                            .members
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                    ),
                    list(&roles),
                )
            });
        }
        GroupCommand::Delete { name } => {
            let name = admin::parse_name(&name)?;
            admin::delete(store, &name).await?;
            ctx.record(ctx.change("group", "deleted", name.as_str()))
                .await?;
            ctx.print(&serde_json::json!({ "deleted": name.as_str() }), || {
                format!("deleted group {name}")
            });
        }
    }
    Ok(())
}
