//! `latchkey scope …`: the scopes clients may be given.

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Context};
use crate::domain::api::Audience;
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

#[derive(Serialize)]
struct ScopeView<'a> {
    name: &'a str,
    description: &'a str,
    builtin: bool,
    api: Option<&'a str>,
    hidden: bool,
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
            if !is_scope_token(&name) {
                return Err(CliError::Invalid(format!(
                    "'{name}' is not a valid scope (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)"
                )));
            }
            let description = crate::domain::text::plain_text(&description, "the description", 200)
                .map_err(CliError::Invalid)?;
            let api = match api {
                Some(raw) => Some(registered_api(ctx, &raw).await?),
                None => None,
            };
            let scope = Scope {
                name,
                description,
                api,
                hidden,
                builtin: false,
                created_at: ctx.clock.now(),
            };
            ctx.store.create_scope(&scope).await?;
            ctx.record(
                ctx.change("scope", "created", &scope.name)
                    .with("api", scope.api.as_ref().map(Audience::as_str))
                    .with("hidden", scope.hidden),
            )
            .await?;
            ctx.print(
                &ScopeView {
                    name: &scope.name,
                    description: &scope.description,
                    builtin: false,
                    api: scope.api.as_ref().map(Audience::as_str),
                    hidden: scope.hidden,
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
                    api: s.api.as_ref().map(Audience::as_str),
                    hidden: s.hidden,
                })
                .collect();
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
            ctx.record(ctx.change("scope", "deleted", &name)).await?;
            ctx.print(&serde_json::json!({ "deleted": name }), || {
                format!("deleted scope {name}")
            });
            Ok(())
        }
    }
}

/// The audience of a registered API, or one clear error.
pub(crate) async fn registered_api(ctx: &Context, raw: &str) -> Result<Audience, CliError> {
    let audience = Audience::parse(raw).map_err(|e| CliError::Invalid(e.0))?;
    let known = ctx.store.list_apis().await?;
    if !known.iter().any(|api| api.audience == audience) {
        return Err(CliError::Invalid(format!(
            "no API with audience '{audience}' (register it first with `latchkey api create`)"
        )));
    }
    Ok(audience)
}
