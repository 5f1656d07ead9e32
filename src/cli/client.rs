//! `latchkey client …`: register, inspect, change and remove OAuth clients.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CliError, Context};
use crate::admin::Change;
use crate::admin::client::{self as admin_client, ClientView, registration};
use crate::admin::role as admin_role;
use crate::clock::format_rfc3339;
use crate::domain::client::{Client, ClientSecret, ClientSpec};

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (shown once).
    Create(CreateArgs),
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// The client id.
        client_id: String,
    },
    /// Change a client; a list flag given replaces that whole list.
    Update(UpdateArgs),
    /// Delete a client and every grant and token issued to it.
    Delete {
        /// The client id.
        client_id: String,
    },
    /// Replace a confidential client's secret; prints the new secret (shown once).
    RotateSecret {
        /// The client id.
        client_id: String,
    },
    /// Give a (service) client a role, carried by its client-credentials tokens.
    AddRole {
        /// The client id.
        client_id: String,
        /// The role name.
        role: String,
    },
    /// Take a role from a client.
    RemoveRole {
        /// The client id.
        client_id: String,
        /// The role name.
        role: String,
    },
}

/// `client create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Display name, shown on the consent page.
    #[arg(long)]
    name: String,
    /// Choose the client id (default: 128 random bits).
    #[arg(long)]
    client_id: Option<String>,
    /// A redirect URI (repeatable; exact match, RFC 6749 §3.1.2).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A grant type: authorization_code, client_credentials, refresh_token, token_exchange (RFC 8693)
    /// (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Space-delimited scopes the client may request (each must exist).
    #[arg(long, default_value = "")]
    scope: String,
    /// client_secret_basic, client_secret_post, or none (a public client).
    #[arg(long, default_value = "client_secret_basic")]
    auth_method: String,
    /// First-party client: users are not asked for consent.
    #[arg(long)]
    skip_consent: bool,
    /// A resource server that may introspect any token.
    #[arg(long)]
    introspect_any: bool,
    /// Let a confidential client skip PKCE (public clients always use it).
    #[arg(long)]
    allow_no_pkce: bool,
    /// Sign this client's ID tokens with RS256, ES256 or EdDSA (default: the server's --id-token-alg).
    #[arg(long = "id-token-signed-response-alg")]
    id_token_signed_response_alg: Option<String>,
    /// `web` (exact redirect URI matching) or `native` (RFC 8252: any loopback port, private-use
    /// schemes, always asked for consent when public). OIDC Dynamic Registration §2.
    #[arg(long, default_value = "web")]
    application_type: String,
    /// An API (its audience) the client may ask tokens for with `resource` (RFC 8707); repeatable.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The API its tokens are for when a request names none and its scopes do not tell.
    #[arg(long)]
    default_resource: Option<String>,
    /// The API (audience) this client is the resource server of: it may introspect that API's
    /// tokens (RFC 7662 §2.1). A confidential client.
    #[arg(long)]
    api: Option<String>,
    /// An API (audience) it may exchange a user's access token for (RFC 8693, with
    /// `--grant-type token_exchange`); repeatable.
    #[arg(long = "may-exchange-for")]
    may_exchange_for: Vec<String>,
}

/// `client update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client id.
    client_id: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// Replace the redirect URIs (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Replace the post-logout redirect URIs (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Replace the grant types (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Replace the allowed scopes.
    #[arg(long)]
    scope: Option<String>,
    /// Switch between client_secret_basic and client_secret_post.
    #[arg(long)]
    auth_method: Option<String>,
    /// First-party client (true/false).
    #[arg(long)]
    skip_consent: Option<bool>,
    /// Resource server (true/false).
    #[arg(long)]
    introspect_any: Option<bool>,
    /// Let a confidential client skip PKCE (true/false).
    #[arg(long)]
    allow_no_pkce: Option<bool>,
    /// ID token signing algorithm (RS256, ES256, EdDSA; an empty value returns to the server default).
    #[arg(long = "id-token-signed-response-alg")]
    id_token_signed_response_alg: Option<String>,
    /// `web` or `native`.
    #[arg(long)]
    application_type: Option<String>,
    /// Replace the APIs the client may ask for (repeatable).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The default API (an empty value removes it).
    #[arg(long)]
    default_resource: Option<String>,
    /// The API this client is the resource server of (an empty value removes it).
    #[arg(long)]
    api: Option<String>,
    /// Replace the APIs it may exchange tokens for (repeatable).
    #[arg(long = "may-exchange-for")]
    may_exchange_for: Vec<String>,
}

/// `client show`: the registration with the client's roles.
#[derive(Serialize)]
struct ClientDetail<'a> {
    #[serde(flatten)]
    client: ClientView<'a>,
    roles: &'a [String],
}

fn describe(c: &Client) -> String {
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(" ")
        }
    };
    format!(
        "client_id:                 {}\nname:                      {}\napplication_type:          {}\n\
         auth_method:               {}\n\
         redirect_uris:             {}\npost_logout_redirect_uris: {}\ngrant_types:               {}\n\
         scope:                     {}\nrequire_pkce:              {}\nskip_consent:              {}\n\
         introspect_any:            {}\ncreated:                   {}\nupdated:                   {}\n",
        c.client_id,
        c.client_name,
        c.application_type.as_str(),
        c.auth_method.as_str(),
        list(c.redirect_uris.iter().map(|u| u.as_str()).collect()),
        list(
            c.post_logout_redirect_uris
                .iter()
                .map(|u| u.as_str())
                .collect()
        ),
        list(c.grant_types.iter().map(|g| g.as_str()).collect()),
        if c.scopes.is_empty() {
            "-".to_owned()
        } else {
            c.scopes.to_string()
        },
        c.require_pkce,
        c.skip_consent,
        c.introspect_any,
        format_rfc3339(c.created_at),
        format_rfc3339(c.updated_at),
    )
}

async fn find(ctx: &Context, client_id: &str) -> Result<Client, CliError> {
    Ok(crate::admin::find_client(ctx.store.as_ref(), client_id).await?)
}

/// Record a client's creation in the audit trail.
pub(super) async fn record_created(ctx: &Context, client: &Client) -> Result<(), CliError> {
    let id = client.client_id.to_string();
    ctx.record(
        ctx.change("client", "created", &id)
            .client(id.clone())
            .with("client", registration(client)),
    )
    .await
}

/// Run a client command.
pub async fn run(ctx: &Context, command: ClientCommand) -> Result<(), CliError> {
    let now = ctx.clock.now();
    match command {
        ClientCommand::Create(args) => {
            let spec = ClientSpec {
                client_name: args.name,
                redirect_uris: args.redirect_uris,
                post_logout_redirect_uris: args.post_logout_redirect_uris,
                grant_types: args.grant_types,
                scope: args.scope,
                auth_method: args.auth_method,
                allow_no_pkce: args.allow_no_pkce,
                skip_consent: args.skip_consent,
                introspect_any: args.introspect_any,
                id_token_alg: args.id_token_signed_response_alg,
                application_type: Some(args.application_type),
                resources: args.resources,
                default_resource: args.default_resource,
                api: args.api,
                may_exchange_for: args.may_exchange_for,
            };
            let (client, secret) =
                admin_client::create(ctx.store.as_ref(), args.client_id.as_deref(), &spec, now)
                    .await?;
            record_created(ctx, &client).await?;

            #[derive(Serialize)]
            struct Created<'a> {
                #[serde(skip_serializing_if = "Option::is_none")]
                client_secret: Option<&'a str>,
                #[serde(flatten)]
                client: ClientView<'a>,
            }
            let secret_value = secret.as_ref().map(ClientSecret::expose);
            ctx.print(
                &Created {
                    client_secret: secret_value,
                    client: ClientView::from(&client),
                },
                || {
                    let mut text = describe(&client);
                    if let Some(secret) = secret_value {
                        text.push_str(&format!(
                            "client_secret:             {secret}\n\nStore the secret now: it is shown only once.\n"
                        ));
                    }
                    text
                },
            );
            Ok(())
        }
        ClientCommand::List => {
            let clients = ctx.store.list_clients().await?;
            let views: Vec<ClientView> = clients.iter().map(ClientView::from).collect();
            ctx.print(&views, || {
                let mut text = format!(
                    "{:<24} {:<20} {:<20} {}\n",
                    "CLIENT_ID", "AUTH_METHOD", "GRANT_TYPES", "NAME"
                );
                for c in &clients {
                    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
                    text.push_str(&format!(
                        "{:<24} {:<20} {:<20} {}\n",
                        c.client_id,
                        c.auth_method.as_str(),
                        grants.join(","),
                        c.client_name
                    ));
                }
                text
            });
            Ok(())
        }
        ClientCommand::Show { client_id } => {
            let client = find(ctx, &client_id).await?;
            let roles: Vec<String> = ctx
                .store
                .find_client_roles(&client.client_id)
                .await?
                .iter()
                .map(|r| r.to_string())
                .collect();
            ctx.print(
                &ClientDetail {
                    client: ClientView::from(&client),
                    roles: &roles,
                },
                || {
                    let shown = if roles.is_empty() {
                        "-".to_owned()
                    } else {
                        roles.join(", ")
                    };
                    format!("{}roles:                     {shown}\n", describe(&client))
                },
            );
            Ok(())
        }
        ClientCommand::AddRole { client_id, role } => {
            let role = admin_role::parse_name(&role)?;
            let client =
                admin_role::client_role(ctx.store.as_ref(), &client_id, &role, Change::Add).await?;
            let id = client.client_id.to_string();
            ctx.record(
                ctx.change("client", "role_added", &id)
                    .client(id.clone())
                    .with("role", role.as_str()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "client_id": client.client_id.as_str(), "added_role": role.as_str() }),
                || format!("client {} now has role {role}", client.client_id),
            );
            Ok(())
        }
        ClientCommand::RemoveRole { client_id, role } => {
            let role = admin_role::parse_name(&role)?;
            let client =
                admin_role::client_role(ctx.store.as_ref(), &client_id, &role, Change::Remove)
                    .await?;
            let id = client.client_id.to_string();
            ctx.record(
                ctx.change("client", "role_removed", &id)
                    .client(id.clone())
                    .with("role", role.as_str()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "client_id": client.client_id.as_str(), "removed_role": role.as_str() }),
                || format!("client {} no longer has role {role}", client.client_id),
            );
            Ok(())
        }
        ClientCommand::Update(args) => {
            let existing = find(ctx, &args.client_id).await?;
            let mut spec = existing.to_spec();
            if let Some(name) = args.name {
                spec.client_name = name;
            }
            if !args.redirect_uris.is_empty() {
                spec.redirect_uris = args.redirect_uris;
            }
            if !args.post_logout_redirect_uris.is_empty() {
                spec.post_logout_redirect_uris = args.post_logout_redirect_uris;
            }
            if !args.grant_types.is_empty() {
                spec.grant_types = args.grant_types;
            }
            if let Some(scope) = args.scope {
                spec.scope = scope;
            }
            if let Some(method) = args.auth_method {
                spec.auth_method = method;
            }
            if let Some(flag) = args.skip_consent {
                spec.skip_consent = flag;
            }
            if let Some(flag) = args.introspect_any {
                spec.introspect_any = flag;
            }
            if let Some(flag) = args.allow_no_pkce {
                spec.allow_no_pkce = flag;
            }
            if let Some(alg) = args.id_token_signed_response_alg {
                spec.id_token_alg = Some(alg);
            }
            if let Some(kind) = args.application_type {
                spec.application_type = Some(kind);
            }
            if !args.resources.is_empty() {
                spec.resources = args.resources;
            }
            if let Some(default) = args.default_resource {
                spec.default_resource = Some(default);
            }
            if let Some(api) = args.api {
                spec.api = Some(api);
            }
            if !args.may_exchange_for.is_empty() {
                spec.may_exchange_for = args.may_exchange_for;
            }
            let updated = admin_client::update(ctx.store.as_ref(), &existing, &spec, now).await?;
            let id = updated.client_id.to_string();
            ctx.record(
                ctx.change("client", "updated", &id)
                    .client(id.clone())
                    .with("before", registration(&existing))
                    .with("after", registration(&updated)),
            )
            .await?;
            ctx.print(&ClientView::from(&updated), || describe(&updated));
            Ok(())
        }
        ClientCommand::Delete { client_id } => {
            let id = admin_client::delete(ctx.store.as_ref(), &client_id).await?;
            ctx.record(
                ctx.change("client", "deleted", id.as_str())
                    .client(id.to_string()),
            )
            .await?;
            ctx.print(&serde_json::json!({ "deleted": client_id }), || {
                format!("deleted client {client_id}")
            });
            Ok(())
        }
        ClientCommand::RotateSecret { client_id } => {
            let (_, secret) =
                admin_client::rotate_secret(ctx.store.as_ref(), &client_id, now).await?;
            // That the secret changed, never the secret.
            ctx.record(
                ctx.change("client", "secret_rotated", &client_id)
                    .client(client_id.clone()),
            )
            .await?;
            ctx.print(
                &serde_json::json!({ "client_id": client_id, "client_secret": secret.expose() }),
                || {
                    format!(
                        "client_id:     {client_id}\nclient_secret: {}\n\nThe old secret no longer works. Store the new one now: it is shown only once.",
                        secret.expose()
                    )
                },
            );
            Ok(())
        }
    }
}
