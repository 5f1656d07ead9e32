//! `latchkey scope …`: the scopes clients may be given.

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Context};
use crate::domain::scope::{Scope, is_scope_token};

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
    },
    /// List scopes.
    List,
    /// Delete a scope no client uses (the OIDC scopes cannot be deleted).
    Delete {
        /// The scope.
        name: String,
    },
}

#[derive(Serialize)]
struct ScopeView<'a> {
    name: &'a str,
    description: &'a str,
    builtin: bool,
}

/// Run a scope command.
pub async fn run(ctx: &Context, command: ScopeCommand) -> Result<(), CliError> {
    match command {
        ScopeCommand::Create { name, description } => {
            if !is_scope_token(&name) {
                return Err(CliError::Invalid(format!(
                    "'{name}' is not a valid scope (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)"
                )));
            }
            let description = crate::domain::text::plain_text(&description, "the description", 200)
                .map_err(CliError::Invalid)?;
            let scope = Scope {
                name,
                description,
                builtin: false,
                created_at: ctx.clock.now(),
            };
            ctx.store.create_scope(&scope).await?;
            ctx.print(
                &ScopeView {
                    name: &scope.name,
                    description: &scope.description,
                    builtin: false,
                },
                || format!("created scope {}", scope.name),
            );
            Ok(())
        }
        ScopeCommand::List => {
            let scopes = ctx.store.list_scopes().await?;
            let views: Vec<ScopeView> = scopes
                .iter()
                .map(|s| ScopeView {
                    name: &s.name,
                    description: &s.description,
                    builtin: s.builtin,
                })
                .collect();
            ctx.print(&views, || {
                let mut text = format!("{:<24} {:<8} {}\n", "SCOPE", "BUILTIN", "DESCRIPTION");
                for s in &scopes {
                    text.push_str(&format!(
                        "{:<24} {:<8} {}\n",
                        s.name, s.builtin, s.description
                    ));
                }
                text
            });
            Ok(())
        }
        ScopeCommand::Delete { name } => {
            let scopes = ctx.store.list_scopes().await?;
            match scopes.iter().find(|s| s.name == name) {
                None => return Err(CliError::Invalid(format!("no scope named '{name}'"))),
                Some(s) if s.builtin => {
                    return Err(CliError::Invalid(format!(
                        "'{name}' is an OIDC scope and cannot be deleted"
                    )));
                }
                Some(_) => {}
            }
            let users: Vec<String> = ctx
                .store
                .list_clients()
                .await?
                .into_iter()
                .filter(|c| c.scopes.contains(&name))
                .map(|c| c.client_id.to_string())
                .collect();
            if !users.is_empty() {
                return Err(CliError::Invalid(format!(
                    "scope '{name}' is still allowed for client(s) {}; remove it from them first",
                    users.join(", ")
                )));
            }
            if !ctx.store.delete_scope(&name).await? {
                return Err(CliError::Invalid(format!("no scope named '{name}'")));
            }
            ctx.print(&serde_json::json!({ "deleted": name }), || {
                format!("deleted scope {name}")
            });
            Ok(())
        }
    }
}
