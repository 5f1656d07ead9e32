//! `latchkey admin bootstrap`: the first admin client, for the admin API (`/admin/v1/…`).

use clap::Subcommand;

use super::{CliError, Context};
use crate::admin::client as admin_client;
use crate::domain::client::ClientSpec;
use crate::domain::scope::Scope;
use crate::oauth::admin::ADMIN_SCOPE;
use crate::store::StoreError;

/// Admin API commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin client: a confidential client for the client-credentials grant with the
    /// `latchkey:admin` scope (created hidden if missing). Its token authorizes the admin API.
    /// Prints its id and secret; the secret is shown once.
    Bootstrap {
        /// Choose the client id (default: 128 random bits).
        #[arg(long)]
        client_id: Option<String>,
        /// Its display name.
        #[arg(long, default_value = "Latchkey admin")]
        name: String,
    },
}

/// Run an admin command.
pub async fn run(ctx: &Context, command: AdminCommand) -> Result<(), CliError> {
    let AdminCommand::Bootstrap { client_id, name } = command;
    let local = ctx.local("admin bootstrap")?;
    let now = local.clock.now();
    let scope = Scope {
        name: ADMIN_SCOPE.to_owned(),
        description: "Administer Latchkey through its admin API".to_owned(),
        builtin: false,
        api: None,
        hidden: true,
        created_at: now,
    };
    match local.store.create_scope(&scope).await {
        Ok(()) => {
            local
                .record(
                    local
                        .change("scope", "created", ADMIN_SCOPE)
                        .with("hidden", true),
                )
                .await?;
        }
        Err(StoreError::Conflict(_)) => {}
        Err(other) => return Err(other.into()),
    }
    let spec = ClientSpec {
        client_name: name,
        grant_types: vec!["client_credentials".into()],
        scope: ADMIN_SCOPE.to_owned(),
        auth_method: "client_secret_basic".into(),
        ..ClientSpec::default()
    };
    let (client, secret) =
        admin_client::create(local.store.as_ref(), None, client_id.as_deref(), &spec, now).await?;
    super::client::record_created(local, &client).await?;
    let id = client.client_id.to_string();
    let secret = secret
        .as_ref()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    ctx.print(
        &serde_json::json!({ "client_id": id, "client_secret": secret, "scope": ADMIN_SCOPE }),
        || {
            format!(
                "client_id:     {id}\nclient_secret: {secret}\nscope:         {ADMIN_SCOPE}\n\n\
                 Store the secret now: it is shown only once. Get a token with the client \
                 credentials grant (scope={ADMIN_SCOPE}) and call /admin/v1/… with it."
            )
        },
    );
    Ok(())
}
