//! `latchkey scope …`: the scopes clients may be given.

use clap::Subcommand;

use super::{CliError, Context};
use crate::admin::scope::{self as admin_scope, NewScope, ScopeView};
use crate::domain::api::Audience;

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
            let new = NewScope {
                name,
                description,
                api,
                hidden,
            };
            let scope = admin_scope::create(ctx.store.as_ref(), new, ctx.clock.now()).await?;
            ctx.record(
                ctx.change("scope", "created", &scope.name)
                    .with("api", scope.api.as_ref().map(Audience::as_str))
                    .with("hidden", scope.hidden),
            )
            .await?;
            ctx.print(&ScopeView::from(&scope), || {
                format!("created scope {}", scope.name)
            });
            Ok(())
        }
        ScopeCommand::List => {
            let scopes = ctx.store.list_scopes().await?;
            let views: Vec<ScopeView> = scopes.iter().map(ScopeView::from).collect();
            ctx.print(&views, || {
                let mut text = format!(
                    "{:<24} {:<8} {:<32} {}\n",
                    "SCOPE", "BUILTIN", "API", "DESCRIPTION"
                );
                for s in &scopes {
                    let api = s.api.as_ref().map_or("-", Audience::as_str);
                    text.push_str(&format!(
                        "{:<24} {:<8} {:<32} {}{}\n",
                        s.name,
                        s.builtin,
                        api,
                        s.description,
                        if s.hidden { " (hidden)" } else { "" }
                    ));
                }
                text
            });
            Ok(())
        }
        ScopeCommand::Delete { name } => {
            admin_scope::delete(ctx.store.as_ref(), &name).await?;
            ctx.record(ctx.change("scope", "deleted", &name)).await?;
            ctx.print(&serde_json::json!({ "deleted": name }), || {
                format!("deleted scope {name}")
            });
            Ok(())
        }
    }
}
