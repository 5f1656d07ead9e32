//! `latchkey scope …`: the scopes clients may be given.

use clap::Subcommand;
use reqwest::Method;

use super::view::{self, shown};
use super::{CliError, Context, Via, remote};
use crate::admin::scope::{self as admin_scope, NewScope, ScopeView};
use crate::domain::api::Audience;
use crate::paths::{ADMIN_SCOPE_PATH, ADMIN_SCOPES_PATH};

/// Scope commands.
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Create a scope (e.g. `orders:read`).
    Create {
        /// The scope token (RFC 6749 §3.3).
        name: String,
        /// What it allows, shown to users on the consent page.
        #[arg(long)]
        description: String,
        /// The API (its audience) the scope belongs to: tokens carrying it are for that API.
        #[arg(long)]
        api: Option<String>,
        /// Keep the scope out of discovery's `scopes_supported`.
        #[arg(long)]
        hidden: bool,
    },
    /// List scopes.
    List,
    /// Delete a scope no client uses (the OIDC scopes cannot be deleted).
    Delete {
        /// The scope.
        name: String,
    },
}

/// Run a scope command.
pub async fn run(ctx: &Context, command: ScopeCommand) -> Result<(), CliError> {
    match command {
        ScopeCommand::Create {
            name,
            description,
            api,
            hidden,
        } => {
            let scope: view::Scope = match &ctx.via {
                Via::Local(local) => {
                    let new = NewScope {
                        name,
                        description,
                        api,
                        hidden,
                    };
                    let scope =
                        admin_scope::create(local.store.as_ref(), new, local.clock.now()).await?;
                    local
                        .record(
                            local
                                .change("scope", "created", &scope.name)
                                .with("api", scope.api.as_ref().map(Audience::as_str))
                                .with("hidden", scope.hidden),
                        )
                        .await?;
                    shown(&ScopeView::from(&scope))?
                }
                Via::Server(server) => {
                    let body = serde_json::json!({
                        "name": name,
                        "description": description,
                        "api": api,
                        "hidden": hidden,
                    });
                    server
                        .call(Method::POST, ADMIN_SCOPES_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&scope, || format!("created scope {}", scope.name));
            Ok(())
        }
        ScopeCommand::List => {
            let scopes: Vec<view::Scope> = match &ctx.via {
                Via::Local(local) => {
                    let scopes = local.store.list_scopes().await?;
                    shown(&scopes.iter().map(ScopeView::from).collect::<Vec<_>>())?
                }
                Via::Server(server) => server.get(ADMIN_SCOPES_PATH).await?,
            };
            ctx.print(&scopes, || {
                let mut text = format!(
                    "{:<24} {:<8} {:<32} {}\n",
                    "SCOPE", "BUILTIN", "API", "DESCRIPTION"
                );
                for s in &scopes {
                    text.push_str(&format!(
                        "{:<24} {:<8} {:<32} {}{}\n",
                        s.name,
                        s.builtin,
                        s.api.as_deref().unwrap_or("-"),
                        s.description,
                        if s.hidden { " (hidden)" } else { "" }
                    ));
                }
                text
            });
            Ok(())
        }
        ScopeCommand::Delete { name } => {
            match &ctx.via {
                Via::Local(local) => {
                    admin_scope::delete(local.store.as_ref(), &name).await?;
                    local
                        .record(local.change("scope", "deleted", &name))
                        .await?;
                }
                Via::Server(server) => {
                    let path = remote::path(ADMIN_SCOPE_PATH, &[&name])?;
                    server.call_done(Method::DELETE, &path).await?;
                }
            }
            ctx.print(&serde_json::json!({ "deleted": name }), || {
                format!("deleted scope {name}")
            });
            Ok(())
        }
    }
}
