//! `latchkey role …`: roles, carried in the `roles` claim of tokens (RFC 9068 §2.2.3.1).

use clap::Subcommand;
use reqwest::Method;

use super::view::{self, shown};
use super::{CliError, Context, Via, or_dash, remote};
use crate::admin::role::{self as admin, RoleView};
use crate::clock::format_rfc3339;
use crate::domain::role::RoleName;
use crate::paths::{ADMIN_ROLE_PATH, ADMIN_ROLES_PATH};

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
        /// Its holders' sign-ins need two factors (`urn:latchkey:acr:mfa`); a holder without a
        /// second factor enrols one after the password.
        #[arg(long)]
        require_mfa: bool,
    },
    /// Change a role's description, or whether its holders need two factors.
    Update {
        /// The role name.
        name: String,
        /// A new description ("" removes it).
        #[arg(long)]
        description: Option<String>,
        /// Its holders' sign-ins need two factors (true/false).
        #[arg(long)]
        require_mfa: Option<bool>,
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

fn describe(role: &view::RoleWithHolders) -> String {
    format!(
        "name:        {}\ndescription: {}\nrequire_mfa: {}\ncreated:     {}\nusers:       {}\nclients:     {}\ngroups:      {}\n",
        role.role.name,
        or_dash(role.role.description.as_deref()),
        role.role.require_mfa,
        format_rfc3339(role.role.created_at),
        list(&strs(&role.users)),
        list(&strs(&role.clients)),
        list(&strs(&role.groups)),
    )
}

/// The items, borrowed, for [`list`].
pub(crate) fn strs(items: &[String]) -> Vec<&str> {
    items.iter().map(String::as_str).collect()
}

/// A comma-separated list, or `-` when empty.
pub(crate) fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// `/admin/v1/roles/{name}`.
fn role_path(name: &RoleName) -> Result<String, CliError> {
    remote::path(ADMIN_ROLE_PATH, &[name.as_str()])
}

/// Run a role command.
pub async fn run(ctx: &Context, command: RoleCommand) -> Result<(), CliError> {
    match command {
        RoleCommand::Create {
            name,
            description,
            api,
            scopes,
            require_mfa,
        } => {
            let name = admin::parse_name(&name)?;
            let role: view::Role = match &ctx.via {
                Via::Local(local) => {
                    let new = admin::NewRole {
                        description: description.as_deref(),
                        api: api.as_deref(),
                        scopes: &scopes,
                        require_mfa,
                    };
                    let role =
                        admin::create(local.store.as_ref(), name, new, local.clock.now()).await?;
                    let view = RoleView::from(&role);
                    local
                        .record(
                            local
                                .change("role", "created", role.name.as_str())
                                .with("role", serde_json::to_value(&view).unwrap_or_default()),
                        )
                        .await?;
                    shown(&view)?
                }
                Via::Server(server) => {
                    let body = serde_json::json!({
                        "name": name.as_str(),
                        "description": description,
                        "api": api,
                        "scopes": scopes,
                        "require_mfa": require_mfa,
                    });
                    server
                        .call(Method::POST, ADMIN_ROLES_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&role, || format!("created role {}", role.name));
        }
        RoleCommand::Update {
            name,
            description,
            require_mfa,
        } => {
            let name = admin::parse_name(&name)?;
            let role: view::Role = match &ctx.via {
                Via::Local(local) => {
                    let before = admin::find(local.store.as_ref(), &name).await?;
                    let change = admin::RoleUpdate {
                        description: description.as_deref(),
                        require_mfa,
                    };
                    let role = admin::update(local.store.as_ref(), &name, change).await?;
                    let view = RoleView::from(&role);
                    local
                        .record(
                            local
                                .change("role", "updated", role.name.as_str())
                                .with(
                                    "before",
                                    serde_json::to_value(RoleView::from(&before))
                                        .unwrap_or_default(),
                                )
                                .with("after", serde_json::to_value(&view).unwrap_or_default()),
                        )
                        .await?;
                    shown(&view)?
                }
                Via::Server(server) => {
                    let body = serde_json::json!({
                        "description": description,
                        "require_mfa": require_mfa,
                    });
                    server
                        .call(Method::PATCH, &role_path(&name)?, Some(&body))
                        .await?
                }
            };
            ctx.print(&role, || format!("updated role {}", role.name));
        }
        RoleCommand::List => {
            let roles: Vec<view::Role> = match &ctx.via {
                Via::Local(local) => {
                    let roles = local.store.list_roles().await?;
                    shown(&roles.iter().map(RoleView::from).collect::<Vec<_>>())?
                }
                Via::Server(server) => server.get(ADMIN_ROLES_PATH).await?,
            };
            ctx.print(&roles, || {
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
            let detail: view::RoleWithHolders = match &ctx.via {
                Via::Local(local) => {
                    let (role, holders) = admin::show(local.store.as_ref(), &name).await?;
                    view::RoleWithHolders {
                        role: shown(&RoleView::from(&role))?,
                        users: holders.users,
                        clients: holders.clients.iter().map(|c| c.to_string()).collect(),
                        groups: holders.groups.iter().map(|g| g.to_string()).collect(),
                    }
                }
                Via::Server(server) => server.get(&role_path(&name)?).await?,
            };
            ctx.print(&detail, || describe(&detail));
        }
        RoleCommand::Delete { name } => {
            let name = admin::parse_name(&name)?;
            match &ctx.via {
                Via::Local(local) => {
                    admin::delete(local.store.as_ref(), &name).await?;
                    local
                        .record(local.change("role", "deleted", name.as_str()))
                        .await?;
                }
                Via::Server(server) => {
                    server.call_done(Method::DELETE, &role_path(&name)?).await?;
                }
            }
            ctx.print(&serde_json::json!({ "deleted": name.as_str() }), || {
                format!("deleted role {name}")
            });
        }
    }
    Ok(())
}
