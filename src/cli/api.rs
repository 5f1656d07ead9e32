//! `latchkey api …`: APIs (resource servers, RFC 8707) — the audiences access tokens are issued for.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CliError, Context};
use crate::clock::format_rfc3339;
use crate::domain::alg::SigningAlg;
use crate::domain::api::{Api, ApiError, Audience};
use crate::domain::scope::{Scope, is_scope_token};
use crate::domain::text::plain_text;

/// API commands.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Register an API: its audience is the `aud` of the access tokens issued for it.
    Create(CreateArgs),
    /// List APIs.
    List,
    /// Show one API with its scopes.
    Show {
        /// The audience.
        audience: String,
    },
    /// Change an API's name, token lifetime or signing algorithm.
    Update(UpdateArgs),
    /// Delete an API that no scope belongs to and no client lists.
    Delete {
        /// The audience.
        audience: String,
    },
}

/// `api create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The audience: an absolute URI (RFC 8707 §2), e.g. `https://orders.example.com`.
    #[arg(long)]
    audience: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// A scope of this API (repeatable): created for it, or an existing scope of no API attached to it.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Lifetime of this API's access tokens (default: the server's --access-token-ttl). Named
    /// `--token-ttl`, since `--access-token-ttl` is the server-wide setting every command reads.
    #[arg(long = "token-ttl", value_parser = crate::config::parse_duration)]
    token_ttl: Option<std::time::Duration>,
    /// How this API's access tokens are signed: RS256, ES256 or EdDSA (default: the server's
    /// --access-token-alg).
    #[arg(long = "token-alg")]
    token_alg: Option<SigningAlg>,
    /// `jwt` (signed tokens the API can verify itself) or `opaque` (reference tokens, valid only
    /// through introspection, revoked at once).
    #[arg(long = "token-format", default_value = "jwt")]
    token_format: String,
    /// Role-based scopes: a user or service receives this API's scopes only as its roles grant them
    /// (`role create --scope`).
    #[arg(long)]
    rbac: bool,
}

/// `api update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The audience.
    audience: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// New token lifetime (`0` returns to the server default).
    #[arg(long = "token-ttl", value_parser = crate::config::parse_duration)]
    token_ttl: Option<std::time::Duration>,
    /// New signing algorithm (an empty value returns to the server default).
    #[arg(long = "token-alg")]
    token_alg: Option<String>,
    /// `jwt` or `opaque` (applies to tokens issued afterwards).
    #[arg(long = "token-format")]
    token_format: Option<String>,
    /// Role-based scopes on or off (true/false).
    #[arg(long)]
    rbac: Option<bool>,
}

#[derive(Serialize)]
struct ApiView<'a> {
    audience: &'a str,
    name: &'a str,
    access_token_ttl: Option<i64>,
    access_token_alg: Option<&'static str>,
    token_format: &'static str,
    rbac: bool,
    scopes: Vec<&'a str>,
    created_at: i64,
    updated_at: i64,
}

fn view<'a>(api: &'a Api, scopes: &'a [Scope]) -> ApiView<'a> {
    ApiView {
        audience: api.audience.as_str(),
        name: &api.name,
        access_token_ttl: api.access_token_ttl,
        access_token_alg: api.access_token_alg.map(SigningAlg::as_str),
        token_format: api.token_format.as_str(),
        rbac: api.rbac,
        scopes: scopes
            .iter()
            .filter(|s| s.api.as_ref() == Some(&api.audience))
            .map(|s| s.name.as_str())
            .collect(),
        created_at: api.created_at,
        updated_at: api.updated_at,
    }
}

fn describe(view: &ApiView<'_>) -> String {
    format!(
        "audience:         {}\nname:             {}\nscopes:           {}\naccess_token_ttl: {}\n\
         access_token_alg: {}\ntoken_format:     {}\nrbac:             {}\ncreated:          {}\n",
        view.audience,
        view.name,
        if view.scopes.is_empty() {
            "-".to_owned()
        } else {
            view.scopes.join(" ")
        },
        view.access_token_ttl
            .map_or("server default".to_owned(), |s| format!("{s}s")),
        view.access_token_alg.unwrap_or("server default"),
        view.token_format,
        view.rbac,
        format_rfc3339(view.created_at),
    )
}

fn seconds(duration: std::time::Duration) -> Result<Option<i64>, CliError> {
    match i64::try_from(duration.as_secs()) {
        Ok(0) => Ok(None),
        Ok(seconds) => Ok(Some(seconds)),
        Err(_) => Err(CliError::Invalid("the token lifetime is too long".into())),
    }
}

async fn find(ctx: &Context, raw: &str) -> Result<Api, CliError> {
    let audience = Audience::parse(raw).map_err(|e| CliError::Invalid(e.0))?;
    ctx.store
        .list_apis()
        .await?
        .into_iter()
        .find(|api| api.audience == audience)
        .ok_or_else(|| CliError::Invalid(format!("no API with audience '{audience}'")))
}

/// Run an API command.
pub async fn run(ctx: &Context, command: ApiCommand) -> Result<(), CliError> {
    let now = ctx.clock.now();
    match command {
        ApiCommand::Create(args) => {
            let audience = Audience::parse(&args.audience).map_err(|e| CliError::Invalid(e.0))?;
            let name = plain_text(&args.name, "the name", 200).map_err(CliError::Invalid)?;
            let existing = ctx.store.list_scopes().await?;
            // Every scope is checked before anything is written.
            for scope in &args.scopes {
                if !is_scope_token(scope) {
                    return Err(CliError::Invalid(format!(
                        "'{scope}' is not a valid scope (RFC 6749 §3.3)"
                    )));
                }
                match existing.iter().find(|s| &s.name == scope) {
                    Some(s) if s.builtin => {
                        return Err(CliError::Invalid(format!(
                            "'{scope}' is an OIDC scope and belongs to no API"
                        )));
                    }
                    Some(Scope {
                        api: Some(other), ..
                    }) => {
                        return Err(CliError::Invalid(format!(
                            "scope '{scope}' belongs to the API '{other}'"
                        )));
                    }
                    _ => {}
                }
            }
            let api = Api {
                audience,
                name,
                access_token_ttl: args.token_ttl.map(seconds).transpose()?.flatten(),
                access_token_alg: args.token_alg,
                token_format: args
                    .token_format
                    .parse()
                    .map_err(|e: ApiError| CliError::Invalid(e.0))?,
                rbac: args.rbac,
                created_at: now,
                updated_at: now,
            };
            ctx.store.create_api(&api).await?;
            for scope in &args.scopes {
                if existing.iter().any(|s| &s.name == scope) {
                    ctx.store.set_scope_api(scope, Some(&api.audience)).await?;
                } else {
                    ctx.store
                        .create_scope(&Scope {
                            name: scope.clone(),
                            description: scope.clone(),
                            builtin: false,
                            api: Some(api.audience.clone()),
                            hidden: false,
                            created_at: now,
                        })
                        .await?;
                }
            }
            let scopes = ctx.store.list_scopes().await?;
            let shown = view(&api, &scopes);
            ctx.record(
                ctx.change("api", "created", api.audience.as_str())
                    .with("api", serde_json::to_value(&shown).unwrap_or_default()),
            )
            .await?;
            ctx.print(&shown, || describe(&shown));
            Ok(())
        }
        ApiCommand::List => {
            let apis = ctx.store.list_apis().await?;
            let scopes = ctx.store.list_scopes().await?;
            let views: Vec<ApiView> = apis.iter().map(|api| view(api, &scopes)).collect();
            ctx.print(&views, || {
                let mut text = format!("{:<40} {:<24} {}\n", "AUDIENCE", "NAME", "SCOPES");
                for v in &views {
                    text.push_str(&format!(
                        "{:<40} {:<24} {}\n",
                        v.audience,
                        v.name,
                        v.scopes.join(" ")
                    ));
                }
                text
            });
            Ok(())
        }
        ApiCommand::Show { audience } => {
            let api = find(ctx, &audience).await?;
            let scopes = ctx.store.list_scopes().await?;
            let shown = view(&api, &scopes);
            ctx.print(&shown, || describe(&shown));
            Ok(())
        }
        ApiCommand::Update(args) => {
            let mut api = find(ctx, &args.audience).await?;
            if let Some(name) = args.name {
                api.name = plain_text(&name, "the name", 200).map_err(CliError::Invalid)?;
            }
            if let Some(ttl) = args.token_ttl {
                api.access_token_ttl = seconds(ttl)?;
            }
            if let Some(alg) = args.token_alg {
                api.access_token_alg = match alg.trim() {
                    "" => None,
                    alg => Some(alg.parse().map_err(CliError::Invalid)?),
                };
            }
            if let Some(rbac) = args.rbac {
                api.rbac = rbac;
            }
            if let Some(format) = args.token_format {
                api.token_format = format
                    .parse()
                    .map_err(|e: ApiError| CliError::Invalid(e.0))?;
            }
            api.updated_at = now;
            if !ctx.store.update_api(&api).await? {
                return Err(CliError::Invalid(format!(
                    "no API with audience '{}'",
                    api.audience
                )));
            }
            let scopes = ctx.store.list_scopes().await?;
            let shown = view(&api, &scopes);
            ctx.record(
                ctx.change("api", "updated", api.audience.as_str())
                    .with("api", serde_json::to_value(&shown).unwrap_or_default()),
            )
            .await?;
            ctx.print(&shown, || describe(&shown));
            Ok(())
        }
        ApiCommand::Delete { audience } => {
            let api = find(ctx, &audience).await?;
            let clients: Vec<String> = ctx
                .store
                .list_clients()
                .await?
                .into_iter()
                .filter(|c| c.resources.contains(&api.audience))
                .map(|c| c.client_id.to_string())
                .collect();
            if !clients.is_empty() {
                return Err(CliError::Invalid(format!(
                    "the API is a resource of client(s) {}; remove it from them first",
                    clients.join(", ")
                )));
            }
            if !ctx.store.delete_api(&api.audience).await? {
                return Err(CliError::Invalid(format!(
                    "the API '{}' still has scopes or roles; delete them first",
                    api.audience
                )));
            }
            ctx.record(ctx.change("api", "deleted", api.audience.as_str()))
                .await?;
            ctx.print(
                &serde_json::json!({ "deleted": api.audience.as_str() }),
                || format!("deleted API {}", api.audience),
            );
            Ok(())
        }
    }
}
