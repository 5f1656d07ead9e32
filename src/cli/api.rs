//! `latchkey api …`: APIs (resource servers, RFC 8707) — the audiences access tokens are issued for.

use clap::{Args, Subcommand};
use reqwest::Method;

use super::view::{self, shown};
use super::{CliError, Context, Local, Via, remote};
use crate::admin::api::{self as admin_api, ApiChanges, ApiView, NewApi, view as api_view};
use crate::clock::format_rfc3339;
use crate::domain::alg::SigningAlg;
use crate::domain::api::Audience;
use crate::paths::{ADMIN_API_PATH, ADMIN_APIS_PATH};

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

fn describe(api: &view::Api) -> String {
    format!(
        "audience:         {}\nname:             {}\nscopes:           {}\naccess_token_ttl: {}\n\
         access_token_alg: {}\ntoken_format:     {}\nrbac:             {}\ncreated:          {}\n",
        api.audience,
        api.name,
        if api.scopes.is_empty() {
            "-".to_owned()
        } else {
            api.scopes.join(" ")
        },
        api.access_token_ttl
            .map_or("server default".to_owned(), |s| format!("{s}s")),
        api.access_token_alg.as_deref().unwrap_or("server default"),
        api.token_format,
        api.rbac,
        format_rfc3339(api.created_at),
    )
}

/// `/admin/v1/apis/{audience}`.
fn api_path(audience: &str) -> Result<String, CliError> {
    remote::path(ADMIN_API_PATH, &[audience])
}

/// A duration as the admin API takes it: whole seconds.
fn seconds(duration: std::time::Duration) -> String {
    duration.as_secs().to_string()
}

/// Record an operator's change to an API, with the API as shown.
async fn record(local: &Local, action: &str, shown: &ApiView<'_>) -> Result<(), CliError> {
    local
        .record(
            local
                .change("api", action, shown.audience)
                .with("api", serde_json::to_value(shown).unwrap_or_default()),
        )
        .await
}

/// Run an API command.
pub async fn run(ctx: &Context, command: ApiCommand) -> Result<(), CliError> {
    match command {
        ApiCommand::Create(args) => {
            let api: view::Api = match &ctx.via {
                Via::Local(local) => {
                    let new = NewApi {
                        audience: args.audience,
                        name: args.name,
                        scopes: args.scopes,
                        token_ttl: args.token_ttl,
                        token_alg: args.token_alg,
                        token_format: args.token_format,
                        rbac: args.rbac,
                    };
                    let api =
                        admin_api::create(local.store.as_ref(), &new, local.clock.now()).await?;
                    let scopes = local.store.list_scopes().await?;
                    let as_shown = api_view(&api, &scopes);
                    record(local, "created", &as_shown).await?;
                    shown(&as_shown)?
                }
                Via::Server(server) => {
                    let body = serde_json::json!({
                        "audience": args.audience,
                        "name": args.name,
                        "scopes": args.scopes,
                        "token_ttl": args.token_ttl.map(seconds),
                        "token_alg": args.token_alg.map(SigningAlg::as_str),
                        "token_format": args.token_format,
                        "rbac": args.rbac,
                    });
                    server
                        .call(Method::POST, ADMIN_APIS_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&api, || describe(&api));
            Ok(())
        }
        ApiCommand::List => {
            let apis: Vec<view::Api> = match &ctx.via {
                Via::Local(local) => {
                    let apis = local.store.list_apis().await?;
                    let scopes = local.store.list_scopes().await?;
                    shown(
                        &apis
                            .iter()
                            .map(|api| api_view(api, &scopes))
                            .collect::<Vec<_>>(),
                    )?
                }
                Via::Server(server) => server.get(ADMIN_APIS_PATH).await?,
            };
            ctx.print(&apis, || {
                let mut text = format!("{:<40} {:<24} {}\n", "AUDIENCE", "NAME", "SCOPES");
                for v in &apis {
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
            let api: view::Api = match &ctx.via {
                Via::Local(local) => {
                    let api = admin_api::find(local.store.as_ref(), &audience).await?;
                    let scopes = local.store.list_scopes().await?;
                    shown(&api_view(&api, &scopes))?
                }
                Via::Server(server) => server.get(&api_path(&audience)?).await?,
            };
            ctx.print(&api, || describe(&api));
            Ok(())
        }
        ApiCommand::Update(args) => {
            let api: view::Api = match &ctx.via {
                Via::Local(local) => {
                    let changes = ApiChanges {
                        name: args.name,
                        token_ttl: args.token_ttl,
                        token_alg: args.token_alg,
                        token_format: args.token_format,
                        rbac: args.rbac,
                    };
                    let api = admin_api::update(
                        local.store.as_ref(),
                        &args.audience,
                        &changes,
                        local.clock.now(),
                    )
                    .await?;
                    let scopes = local.store.list_scopes().await?;
                    let as_shown = api_view(&api, &scopes);
                    record(local, "updated", &as_shown).await?;
                    shown(&as_shown)?
                }
                Via::Server(server) => {
                    // PATCH: only the fields given change.
                    let mut body = serde_json::Map::new();
                    let mut set = |field: &str, value: Option<serde_json::Value>| {
                        if let Some(value) = value {
                            body.insert(field.to_owned(), value);
                        }
                    };
                    set("name", args.name.map(Into::into));
                    set("token_ttl", args.token_ttl.map(|ttl| seconds(ttl).into()));
                    set("token_alg", args.token_alg.map(Into::into));
                    set("token_format", args.token_format.map(Into::into));
                    set("rbac", args.rbac.map(Into::into));
                    let body = serde_json::Value::Object(body);
                    server
                        .call(Method::PATCH, &api_path(&args.audience)?, Some(&body))
                        .await?
                }
            };
            ctx.print(&api, || describe(&api));
            Ok(())
        }
        ApiCommand::Delete { audience } => {
            let audience = match &ctx.via {
                Via::Local(local) => {
                    let api = admin_api::delete(local.store.as_ref(), &audience).await?;
                    local
                        .record(local.change("api", "deleted", api.audience.as_str()))
                        .await?;
                    api.audience
                }
                Via::Server(server) => {
                    // The audience as registered, as the local command prints it.
                    let parsed = Audience::parse(&audience).map_err(|e| CliError::Invalid(e.0))?;
                    server
                        .call_done(Method::DELETE, &api_path(&audience)?)
                        .await?;
                    parsed
                }
            };
            ctx.print(&serde_json::json!({ "deleted": audience.as_str() }), || {
                format!("deleted API {audience}")
            });
            Ok(())
        }
    }
}
