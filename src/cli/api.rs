//! `latchkey api …`: APIs (resource servers, RFC 8707) — the audiences access tokens are issued for.

use clap::{Args, Subcommand};

use super::{CliError, Context};
use crate::admin::api::{self as admin_api, ApiChanges, ApiView, NewApi, view};
use crate::clock::format_rfc3339;
use crate::domain::alg::SigningAlg;

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

/// Run an API command.
pub async fn run(ctx: &Context, command: ApiCommand) -> Result<(), CliError> {
    let now = ctx.clock.now();
    match command {
        ApiCommand::Create(args) => {
            let new = NewApi {
                audience: args.audience,
                name: args.name,
                scopes: args.scopes,
                token_ttl: args.token_ttl,
                token_alg: args.token_alg,
                token_format: args.token_format,
                rbac: args.rbac,
            };
            let api = admin_api::create(ctx.store.as_ref(), &new, now).await?;
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
            let api = admin_api::find(ctx.store.as_ref(), &audience).await?;
            let scopes = ctx.store.list_scopes().await?;
            let shown = view(&api, &scopes);
            ctx.print(&shown, || describe(&shown));
            Ok(())
        }
        ApiCommand::Update(args) => {
            let changes = ApiChanges {
                name: args.name,
                token_ttl: args.token_ttl,
                token_alg: args.token_alg,
                token_format: args.token_format,
                rbac: args.rbac,
            };
            let api = admin_api::update(ctx.store.as_ref(), &args.audience, &changes, now).await?;
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
            let api = admin_api::delete(ctx.store.as_ref(), &audience).await?;
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
