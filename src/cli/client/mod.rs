//! `latchkey client …`: register, inspect, change and remove OAuth clients.

use clap::Subcommand;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::view::{self, shown};
use super::{CliError, Context, Local, Via, remote};
use crate::admin::Change;
use crate::admin::client::{self as admin_client, ClientView, registration};
use crate::admin::role as admin_role;
use crate::clock::format_rfc3339;
use crate::domain::client::{AuthMethod, Client};
use crate::domain::role::RoleName;
use crate::paths::{
    ADMIN_CLIENT_PATH, ADMIN_CLIENT_ROLE_PATH, ADMIN_CLIENT_SECRET_PATH, ADMIN_CLIENTS_PATH,
};

mod args;

pub use args::{CreateArgs, UpdateArgs};
use args::{body, spec_of};

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

/// The text of `client show` and the other commands that print one client.
fn describe(c: &view::Client) -> String {
    let list = |items: &[String]| {
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
         introspect_any:            {}\nrequire_par:               {}\nrequire_dpop:              {}\n\
         require_mfa:               {}\n\
         created:                   {}\n\
         updated:                   {}\n",
        c.client_id,
        c.client_name,
        c.application_type,
        c.auth_method,
        list(&c.redirect_uris),
        list(&c.post_logout_redirect_uris),
        list(&c.grant_types),
        if c.scope.is_empty() { "-" } else { &c.scope },
        c.require_pkce,
        c.skip_consent,
        c.introspect_any,
        c.require_par,
        c.require_dpop,
        c.require_mfa,
        format_rfc3339(c.created_at),
        format_rfc3339(c.updated_at),
    )
}

/// The text of `client list`.
fn table(clients: &[view::Client]) -> String {
    let mut text = format!(
        "{:<24} {:<20} {:<20} {}\n",
        "CLIENT_ID", "AUTH_METHOD", "GRANT_TYPES", "NAME"
    );
    for c in clients {
        text.push_str(&format!(
            "{:<24} {:<20} {:<20} {}\n",
            c.client_id,
            c.auth_method,
            c.grant_types.join(","),
            c.client_name
        ));
    }
    text
}

/// Record a client's creation in the audit trail.
pub(super) async fn record_created(local: &Local, client: &Client) -> Result<(), CliError> {
    let id = client.client_id.to_string();
    local
        .record(
            local
                .change("client", "created", &id)
                .client(id.clone())
                .with("client", registration(client)),
        )
        .await
}

/// `/admin/v1/clients/{client_id}`.
fn client_path(client_id: &str) -> Result<String, CliError> {
    remote::path(ADMIN_CLIENT_PATH, &[client_id])
}

/// Run a client command.
pub async fn run(ctx: &Context, command: ClientCommand) -> Result<(), CliError> {
    match command {
        ClientCommand::Create(args) => {
            let (client_id, spec) = args.spec()?;
            let created: view::NewClient = match &ctx.via {
                Via::Local(local) => {
                    let sealing = spec.auth_method == AuthMethod::ClientSecretJwt.as_str();
                    let kek = local.key_encryption_key(sealing).await?;
                    let (client, secret) = admin_client::create(
                        local.store.as_ref(),
                        kek.as_ref(),
                        client_id.as_deref(),
                        &spec,
                        local.clock.now(),
                    )
                    .await?;
                    record_created(local, &client).await?;
                    view::NewClient {
                        client_secret: secret.as_ref().map(|s| s.expose().to_owned()),
                        client: shown(&ClientView::from(&client))?,
                    }
                }
                Via::Server(server) => {
                    let body = body(client_id.as_deref(), &spec);
                    server
                        .call(Method::POST, ADMIN_CLIENTS_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&created, || {
                let mut text = describe(&created.client);
                if let Some(secret) = &created.client_secret {
                    text.push_str(&format!(
                        "client_secret:             {secret}\n\nStore the secret now: it is shown only once.\n"
                    ));
                }
                text
            });
            Ok(())
        }
        ClientCommand::List => {
            let clients: Vec<view::Client> = match &ctx.via {
                Via::Local(local) => {
                    let clients = local.store.list_clients().await?;
                    shown(&clients.iter().map(ClientView::from).collect::<Vec<_>>())?
                }
                Via::Server(server) => server.get(ADMIN_CLIENTS_PATH).await?,
            };
            ctx.print(&clients, || table(&clients));
            Ok(())
        }
        ClientCommand::Show { client_id } => {
            let detail: view::ClientWithRoles = match &ctx.via {
                Via::Local(local) => {
                    let client = find(local, &client_id).await?;
                    let roles = local.store.find_client_roles(&client.client_id).await?;
                    view::ClientWithRoles {
                        client: shown(&ClientView::from(&client))?,
                        roles: roles.iter().map(|r| r.to_string()).collect(),
                    }
                }
                Via::Server(server) => server.get(&client_path(&client_id)?).await?,
            };
            ctx.print(&detail, || {
                let shown = if detail.roles.is_empty() {
                    "-".to_owned()
                } else {
                    detail.roles.join(", ")
                };
                format!(
                    "{}roles:                     {shown}\n",
                    describe(&detail.client)
                )
            });
            Ok(())
        }
        ClientCommand::AddRole { client_id, role } => {
            let (id, role) = change_role(ctx, &client_id, &role, Change::Add).await?;
            ctx.print(
                &serde_json::json!({ "client_id": id, "added_role": role.as_str() }),
                || format!("client {id} now has role {role}"),
            );
            Ok(())
        }
        ClientCommand::RemoveRole { client_id, role } => {
            let (id, role) = change_role(ctx, &client_id, &role, Change::Remove).await?;
            ctx.print(
                &serde_json::json!({ "client_id": id, "removed_role": role.as_str() }),
                || format!("client {id} no longer has role {role}"),
            );
            Ok(())
        }
        ClientCommand::Update(args) => {
            let client_id = args.client_id.clone();
            let jwt = AuthMethod::ClientSecretJwt.as_str();
            let moved_to_secret_jwt: bool;
            let updated: view::Client = match &ctx.via {
                Via::Local(local) => {
                    let existing = find(local, &client_id).await?;
                    let mut spec = existing.to_spec();
                    args.apply(&mut spec)?;
                    let updated = admin_client::update(
                        local.store.as_ref(),
                        &existing,
                        &spec,
                        local.clock.now(),
                    )
                    .await?;
                    moved_to_secret_jwt = admin_client::lacks_sealed_secret(&updated);
                    let id = updated.client_id.to_string();
                    local
                        .record(
                            local
                                .change("client", "updated", &id)
                                .client(id.clone())
                                .with("before", registration(&existing))
                                .with("after", registration(&updated)),
                        )
                        .await?;
                    shown(&ClientView::from(&updated))?
                }
                Via::Server(server) => {
                    let path = client_path(&client_id)?;
                    let existing: view::Client = server.get(&path).await?;
                    let mut spec = spec_of(&existing);
                    args.apply(&mut spec)?;
                    moved_to_secret_jwt = existing.auth_method != jwt && spec.auth_method == jwt;
                    server
                        .call(Method::PUT, &path, Some(&body(None, &spec)))
                        .await?
                }
            };
            ctx.print(&updated, || {
                let mut text = describe(&updated);
                if moved_to_secret_jwt {
                    text.push_str(
                        "\nIt keeps only its secret's digest, which cannot check a client_secret_jwt assertion: \
                         run `latchkey client rotate-secret` to give it a secret it can use.\n",
                    );
                }
                text
            });
            Ok(())
        }
        ClientCommand::Delete { client_id } => {
            match &ctx.via {
                Via::Local(local) => {
                    let id = admin_client::delete(local.store.as_ref(), &client_id).await?;
                    local
                        .record(
                            local
                                .change("client", "deleted", id.as_str())
                                .client(id.to_string()),
                        )
                        .await?;
                }
                Via::Server(server) => {
                    server
                        .call_done(Method::DELETE, &client_path(&client_id)?)
                        .await?;
                }
            }
            ctx.print(&serde_json::json!({ "deleted": client_id }), || {
                format!("deleted client {client_id}")
            });
            Ok(())
        }
        ClientCommand::RotateSecret { client_id } => {
            let rotated: RotatedSecret = match &ctx.via {
                Via::Local(local) => {
                    let sealing = find(local, &client_id)
                        .await?
                        .auth_method
                        .needs_sealed_secret();
                    let kek = local.key_encryption_key(sealing).await?;
                    let (_, secret) = admin_client::rotate_secret(
                        local.store.as_ref(),
                        kek.as_ref(),
                        &client_id,
                        local.clock.now(),
                    )
                    .await?;
                    // That the secret changed, never the secret.
                    local
                        .record(
                            local
                                .change("client", "secret_rotated", &client_id)
                                .client(client_id.clone()),
                        )
                        .await?;
                    RotatedSecret {
                        client_id: client_id.clone(),
                        client_secret: secret.expose().to_owned(),
                    }
                }
                Via::Server(server) => {
                    let path = remote::path(ADMIN_CLIENT_SECRET_PATH, &[&client_id])?;
                    server.call(Method::POST, &path, None).await?
                }
            };
            ctx.print(&rotated, || {
                format!(
                    "client_id:     {}\nclient_secret: {}\n\nThe old secret no longer works. Store the new one now: it is shown only once.",
                    rotated.client_id, rotated.client_secret
                )
            });
            Ok(())
        }
    }
}

/// `client rotate-secret`: the client and its new secret (shown once).
#[derive(Serialize, Deserialize)]
struct RotatedSecret {
    client_id: String,
    client_secret: String,
}

async fn find(local: &Local, client_id: &str) -> Result<Client, CliError> {
    Ok(crate::admin::find_client(local.store.as_ref(), client_id).await?)
}

/// Give the client `client_id` the role `role`, or take it; the client's id and the role.
async fn change_role(
    ctx: &Context,
    client_id: &str,
    role: &str,
    change: Change,
) -> Result<(String, RoleName), CliError> {
    let role = admin_role::parse_name(role)?;
    match &ctx.via {
        Via::Local(local) => {
            let client =
                admin_role::client_role(local.store.as_ref(), client_id, &role, change).await?;
            let id = client.client_id.to_string();
            local
                .record(
                    local
                        .change("client", &change.action("role"), &id)
                        .client(id.clone())
                        .with("role", role.as_str()),
                )
                .await?;
            Ok((id, role))
        }
        Via::Server(server) => {
            let path = remote::path(ADMIN_CLIENT_ROLE_PATH, &[client_id, role.as_str()])?;
            let linked: Linked = server.call(remote::link(change), &path, None).await?;
            Ok((linked.client_id, role))
        }
    }
}

/// The admin API's answer to a client's role change.
#[derive(Deserialize)]
struct Linked {
    client_id: String,
}
