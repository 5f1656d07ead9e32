//! `latchkey group …`: groups of users, carried in the `groups` claim (RFC 9068 §2.2.3.1); every
//! member holds the group's roles.

use clap::Subcommand;
use reqwest::Method;
use serde::Deserialize;

use super::role::{list, strs};
use super::{CliError, Context, Via, remote, view};
use crate::admin::Change;
use crate::admin::{group as admin, role as admin_role};
use crate::clock::format_rfc3339;
use crate::domain::group::GroupName;
use crate::domain::role::RoleName;
use crate::paths::{
    ADMIN_GROUP_MEMBER_PATH, ADMIN_GROUP_PATH, ADMIN_GROUP_ROLE_PATH, ADMIN_GROUPS_PATH,
};

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

/// `/admin/v1/groups/{name}`.
fn group_path(name: &GroupName) -> Result<String, CliError> {
    remote::path(ADMIN_GROUP_PATH, &[name.as_str()])
}

/// Run a group command.
pub async fn run(ctx: &Context, command: GroupCommand) -> Result<(), CliError> {
    match command {
        GroupCommand::Create { name } => {
            let name = admin::parse_name(&name)?;
            let group: view::Group = match &ctx.via {
                Via::Local(local) => {
                    let group =
                        admin::create(local.store.as_ref(), name, local.clock.now()).await?;
                    local
                        .record(local.change("group", "created", group.name.as_str()))
                        .await?;
                    view::Group {
                        name: group.name.to_string(),
                        created_at: group.created_at,
                    }
                }
                Via::Server(server) => {
                    let body = serde_json::json!({ "name": name.as_str() });
                    server
                        .call(Method::POST, ADMIN_GROUPS_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&group, || format!("created group {}", group.name));
        }
        GroupCommand::AddMember { group, username } => {
            let (group, username) = member(ctx, &group, &username, Change::Add).await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "added_member": username }),
                || format!("added {username} to group {group}"),
            );
        }
        GroupCommand::RemoveMember { group, username } => {
            let (group, username) = member(ctx, &group, &username, Change::Remove).await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "removed_member": username }),
                || format!("removed {username} from group {group}"),
            );
        }
        GroupCommand::AddRole { group, role } => {
            let (group, role) = group_role(ctx, &group, &role, Change::Add).await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "added_role": role.as_str() }),
                || format!("group {group} now has role {role}"),
            );
        }
        GroupCommand::RemoveRole { group, role } => {
            let (group, role) = group_role(ctx, &group, &role, Change::Remove).await?;
            ctx.print(
                &serde_json::json!({ "group": group.as_str(), "removed_role": role.as_str() }),
                || format!("group {group} no longer has role {role}"),
            );
        }
        GroupCommand::List => {
            let groups: Vec<view::Group> = match &ctx.via {
                Via::Local(local) => local
                    .store
                    .list_groups()
                    .await?
                    .into_iter()
                    .map(|g| view::Group {
                        name: g.name.to_string(),
                        created_at: g.created_at,
                    })
                    .collect(),
                Via::Server(server) => server.get(ADMIN_GROUPS_PATH).await?,
            };
            ctx.print(&groups, || {
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
            let detail: view::GroupWithContents = match &ctx.via {
                Via::Local(local) => {
                    let (group, contents) = admin::show(local.store.as_ref(), &name).await?;
                    view::GroupWithContents {
                        group: view::Group {
                            name: group.name.to_string(),
                            created_at: group.created_at,
                        },
                        members: contents.members,
                        roles: contents.roles.iter().map(|r| r.to_string()).collect(),
                    }
                }
                Via::Server(server) => server.get(&group_path(&name)?).await?,
            };
            ctx.print(&detail, || {
                format!(
                    "name:    {}\ncreated: {}\nmembers: {}\nroles:   {}\n",
                    detail.group.name,
                    format_rfc3339(detail.group.created_at),
                    list(&strs(&detail.members)),
                    list(&strs(&detail.roles)),
                )
            });
        }
        GroupCommand::Delete { name } => {
            let name = admin::parse_name(&name)?;
            match &ctx.via {
                Via::Local(local) => {
                    admin::delete(local.store.as_ref(), &name).await?;
                    local
                        .record(local.change("group", "deleted", name.as_str()))
                        .await?;
                }
                Via::Server(server) => {
                    server
                        .call_done(Method::DELETE, &group_path(&name)?)
                        .await?;
                }
            }
            ctx.print(&serde_json::json!({ "deleted": name.as_str() }), || {
                format!("deleted group {name}")
            });
        }
    }
    Ok(())
}

/// Make the user `username` a member of `group`, or take them out; the group and the username.
async fn member(
    ctx: &Context,
    group: &str,
    username: &str,
    change: Change,
) -> Result<(GroupName, String), CliError> {
    let group = admin::parse_name(group)?;
    match &ctx.via {
        Via::Local(local) => {
            let user = admin::member(local.store.as_ref(), &group, username, change).await?;
            local
                .record(
                    local
                        .change("group", &change.action("member"), group.as_str())
                        .user(user.user_id.to_string())
                        .with("username", user.username.as_str()),
                )
                .await?;
            Ok((group, user.username))
        }
        Via::Server(server) => {
            #[derive(Deserialize)]
            struct Linked {
                username: String,
            }
            let path = remote::path(ADMIN_GROUP_MEMBER_PATH, &[group.as_str(), username])?;
            let linked: Linked = server.call(remote::link(change), &path, None).await?;
            Ok((group, linked.username))
        }
    }
}

/// Give every member of `group` the role `role`, or take it from the group.
async fn group_role(
    ctx: &Context,
    group: &str,
    role: &str,
    change: Change,
) -> Result<(GroupName, RoleName), CliError> {
    let group = admin::parse_name(group)?;
    let role = admin_role::parse_name(role)?;
    match &ctx.via {
        Via::Local(local) => {
            admin::group_role(local.store.as_ref(), &group, &role, change).await?;
            local
                .record(
                    local
                        .change("group", &change.action("role"), group.as_str())
                        .with("role", role.as_str()),
                )
                .await?;
        }
        Via::Server(server) => {
            let path = remote::path(ADMIN_GROUP_ROLE_PATH, &[group.as_str(), role.as_str()])?;
            server
                .call::<serde_json::Value>(remote::link(change), &path, None)
                .await?;
        }
    }
    Ok((group, role))
}
