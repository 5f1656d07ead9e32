//! `latchkey role …`: roles, carried in the `roles` claim of tokens (RFC 9068 §2.2.3.1).

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Context, or_dash};
use crate::admin::role::{self as admin, RoleView};
use crate::clock::format_rfc3339;
use crate::domain::role::{Role, RoleHolders};

/// Role commands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role (1-64 characters of `A-Z a-z 0-9 . _ - :`, e.g. `orders:admin`).
    Create {
        /// The role name.
        name: String,
        /// What the role is for.
        #[arg(long)]
        description: Option<String>,
        /// The API (audience) the role belongs to: only that API's access tokens carry it.
        #[arg(long)]
        api: Option<String>,
        /// A scope the role grants (repeatable), for APIs created `--rbac`.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List roles.
    List,
    /// Show a role with the users, clients and groups that hold it.
    Show {
        /// The role name.
        name: String,
    },
    /// Delete a role; every user, client and group loses it.
    Delete {
        /// The role name.
        name: String,
    },
}

#[derive(Serialize)]
struct RoleDetail<'a> {
    #[serde(flatten)]
    role: RoleView<'a>,
    users: &'a [String],
    clients: Vec<&'a str>,
    groups: Vec<&'a str>,
}

fn describe(role: &Role, holders: &RoleHolders) -> String {
    let clients: Vec<&str> = holders.clients.iter().map(|c| c.as_str()).collect();
    let groups: Vec<&str> = holders.groups.iter().map(|g| g.as_str()).collect();
    format!(
        "name:        {}\ndescription: {}\ncreated:     {}\nusers:       {}\nclients:     {}\ngroups:      {}\n",
        role.name,
        or_dash(role.description.as_deref()),
        format_rfc3339(role.created_at),
        list(&holders.users.iter().map(String::as_str).collect::<Vec<_>>()),
        list(&clients),
        list(&groups),
    )
}

/// A comma-separated list, or `-` when empty.
pub(crate) fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// Run a role command.
pub async fn run(ctx: &Context, command: RoleCommand) -> Result<(), CliError> {
    let store = ctx.store.as_ref();
    match command {
        RoleCommand::Create {
            name,
            description,
            api,
            scopes,
        } => {
            let name = admin::parse_name(&name)?;
            let new = admin::NewRole {
                description: description.as_deref(),
                api: api.as_deref(),
                scopes: &scopes,
            };
            let role = admin::create(store, name, new, ctx.clock.now()).await?;
            ctx.record(ctx.change("role", "created", role.name.as_str()).with(
                "role",
                serde_json::to_value(RoleView::from(&role)).unwrap_or_default(),
            ))
            .await?;
            ctx.print(&RoleView::from(&role), || {
                format!("created role {}", role.name)
            });
        }
        RoleCommand::List => {
            let roles = store.list_roles().await?;
            let views: Vec<RoleView> = roles.iter().map(RoleView::from).collect();
            ctx.print(&views, || {
                let mut text = format!("{:<32} {}\n", "NAME", "DESCRIPTION");
                for role in &roles {
                    text.push_str(&format!(
                        "{:<32} {}\n",
                        role.name,
                        or_dash(role.description.as_deref())
                    ));
                }
                text
            });
        }
        RoleCommand::Show { name } => {
            let name = admin::parse_name(&name)?;
            let (role, holders) = admin::show(store, &name).await?;
            let detail = RoleDetail {
                role: RoleView::from(&role),
                users: &holders.users,
                clients: holders.clients.iter().map(|c| c.as_str()).collect(),
                groups: holders.groups.iter().map(|g| g.as_str()).collect(),
            };
            ctx.print(&detail, || describe(&role, &holders));
        }
        RoleCommand::Delete { name } => {
            let name = admin::parse_name(&name)?;
            admin::delete(store, &name).await?;
            ctx.record(ctx.change("role", "deleted", name.as_str()))
                .await?;
            ctx.print(&serde_json::json!({ "deleted": name.as_str() }), || {
                format!("deleted role {name}")
            });
        }
    }
    Ok(())
}
