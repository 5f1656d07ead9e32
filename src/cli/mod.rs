//! The command line: `serve`, `migrate`, and the admin commands, which work on the store directly
//! or, with `--server URL`, through a running server's admin API (`remote`).

use std::io::Read;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, Settings};
use crate::domain::audit::{AuditEvent, EventType};
use crate::store::{Store, StoreError};

pub mod admin;
pub mod api;
pub mod apply;
pub mod audit;
pub mod client;
pub mod group;
pub mod keys;
pub mod registration_token;
pub mod remote;
pub mod role;
pub mod scope;
pub mod serve;
pub mod user;
pub mod view;

use remote::{Remote, ServerArgs};

/// Latchkey: a self-hosted OAuth 2.0 / OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings shared by every command: listed under their own heading, after each command's own
    /// options.
    #[command(
        flatten,
        next_help_heading = "Server settings (every command; flag or LATCHKEY_* variable)"
    )]
    pub config: Config,
    /// Where the admin commands go: the database the settings name, or a running server.
    #[command(
        flatten,
        next_help_heading = "Remote server (admin commands; flag or LATCHKEY_* variable)"
    )]
    pub remote: ServerArgs,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Delete expired codes, tokens, revocation records, grants, sessions and retired keys now.
    Gc,
    /// Register and manage APIs (resource servers): the audiences access tokens are for.
    #[command(subcommand)]
    Api(api::ApiCommand),
    /// Register and manage OAuth clients.
    #[command(subcommand)]
    Client(Box<client::ClientCommand>),
    /// Manage users who sign in.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage the scopes clients may be given.
    #[command(subcommand)]
    Scope(scope::ScopeCommand),
    /// Manage roles (the `roles` claim, RFC 9068 §2.2.3.1).
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Manage groups of users and their roles (the `groups` claim).
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Create, list and revoke the initial access tokens of dynamic client registration
    /// (`POST /register`, RFC 7591 §3; `--registration token`).
    #[command(subcommand)]
    RegistrationToken(registration_token::RegistrationTokenCommand),
    /// List, rotate and re-encrypt signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Read the audit trail: sign-ins, consents, grants, revocations and operators' changes.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Make the store match a configuration file (YAML): create and update what it lists, and with
    /// --prune delete what it does not; the plan is printed first, and applied in one transaction.
    Apply(apply::ApplyArgs),
    /// Write the current configuration (scopes, APIs, roles, groups, clients, users) as YAML, the
    /// format `apply` reads; no secret or password.
    Export(apply::ExportArgs),
    /// The admin API: create its first admin client.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

/// A command that failed; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] crate::state::StartError),
    /// Signing keys.
    #[error("signing keys: {0}")]
    Keys(#[from] crate::keys::KeyError),
    /// Bad input to a command.
    #[error("{0}")]
    Invalid(String),
    /// An admin operation refused or failed.
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// With `--server`: the server refused, failed or could not be reached.
    #[error("{0}")]
    Remote(String),
}

/// Everything a command needs: where it goes and the output mode.
pub struct Context {
    /// The database, or a running server.
    pub via: Via,
    /// Print JSON.
    pub json: bool,
}

/// Where an admin command goes.
pub enum Via {
    /// The store the settings name, opened by this process (boxed: the settings are large).
    Local(Box<Local>),
    /// A running server's admin API (`--server`).
    Server(Remote),
}

/// The store, opened and migrated, with the settings and the clock.
pub struct Local {
    /// Validated settings.
    pub settings: Settings,
    /// The store, migrated.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl Context {
    async fn open(settings: Settings, json: bool) -> Result<Self, CliError> {
        let store = crate::state::connect_store(&settings).await?;
        store.migrate().await?;
        Ok(Self {
            via: Via::Local(Box::new(Local {
                settings,
                store,
                clock: Arc::new(SystemClock),
            })),
            json,
        })
    }

    /// The store, for a command that works on it only (refused with `--server` before it runs).
    pub fn local(&self, command: &str) -> Result<&Local, CliError> {
        match &self.via {
            Via::Local(local) => Ok(local),
            Via::Server(_) => Err(server_refused(command)),
        }
    }

    /// Print a value as JSON, or the text `human` builds.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        use std::io::Write;
        let text = if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => text,
                Err(err) => {
                    eprintln!("error: cannot encode output: {err}");
                    return;
                }
            }
        } else {
            human().trim_end().to_owned()
        };
        if !text.is_empty() {
            // A closed pipe (`latchkey … | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }
}

impl Local {
    /// An operator's change (`admin.change`) to `object` `id`, made with this command line: the
    /// actor is `cli:` and the operating-system user running it. Callers add what changed (never a
    /// secret) and [`Local::record`] it.
    pub fn change(&self, object: &str, action: &str, id: &str) -> AuditEvent {
        AuditEvent::new(EventType::AdminChange, self.clock.now(), self.actor())
            .with("object", object)
            .with("action", action)
            .with("id", id)
    }

    /// The audit trail's actor of this command line: `cli:` and the operating-system user.
    pub fn actor(&self) -> String {
        let user = ["USER", "LOGNAME"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|u| !u.is_empty() && u.len() <= 64 && u.chars().all(|c| c.is_ascii_graphic()))
            .or_else(process_uid)
            .unwrap_or_else(|| "unknown".to_owned());
        format!("cli:{user}")
    }

    /// The key-encryption key, when `needed` (to seal a `client_secret_jwt` client's secret), loaded
    /// as `serve` loads it; refused if it does not open the stored signing keys, since a secret sealed
    /// under another key would never open on the server.
    pub async fn key_encryption_key(
        &self,
        needed: bool,
    ) -> Result<Option<crate::keys::KeyEncryptionKey>, CliError> {
        if !needed {
            return Ok(None);
        }
        let kek = crate::keys::KeyEncryptionKey::load(&self.settings.key_secret)?;
        if let Some(key) = self.store.list_signing_keys().await?.first() {
            kek.decrypt(&key.kid, &key.private_key)
                .map_err(crate::keys::KeyError::from)?;
        }
        Ok(Some(kek))
    }

    /// Record `event` in the audit trail (and the log). The change is already made: a failure here
    /// says so, and the command exits non-zero.
    pub async fn record(&self, event: AuditEvent) -> Result<(), CliError> {
        crate::audit::record(self.store.as_ref(), event)
            .await
            .map_err(|err| {
                CliError::Invalid(format!(
                    "the change was made, but its audit event could not be stored: {err}"
                ))
            })
    }
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    // An empty LATCHKEY_SERVER (a variable cleared, not removed) means no server.
    if let Some(server) = cli.remote.server.as_deref().filter(|s| !s.is_empty()) {
        if let Some(command) = local_only(&cli.command) {
            return Err(server_refused(command));
        }
        // The server settings (database, secrets, lifetimes) are the server's own: not read here.
        let remote = Remote::connect(server, cli.remote.server_ca_file.as_deref()).await?;
        let ctx = Context {
            via: Via::Server(remote),
            json: cli.json,
        };
        return admin_command(&ctx, cli.command).await;
    }
    let settings = cli.config.validate()?;
    match cli.command {
        Command::Serve => serve::run(settings).await,
        Command::Migrate => {
            let ctx = Context::open(settings, cli.json).await?;
            ctx.print(&serde_json::json!({ "migrated": true }), || {
                "migrations applied".to_owned()
            });
            Ok(())
        }
        Command::Gc => {
            let ctx = Context::open(settings, cli.json).await?;
            let local = ctx.local("gc")?;
            let done = crate::housekeeping::run_once(
                local.store.as_ref(),
                local.clock.now(),
                &local.settings,
            )
            .await?;
            ctx.print(&done, || {
                format!(
                    "deleted {} authorization codes, {} refresh tokens, {} revocation records, {} grants, {} sessions, {} reference tokens, {} sign-in attempt counters, {} pushed authorization requests, {} client assertion ids, {} device authorization requests, {} expired registration tokens, {} DPoP proof ids, {} unfinished passkey ceremonies, {} sign-ins of expired sessions, {} undelivered logout tokens, {} retired signing keys, {} audit events",
                    done.authorization_codes, done.refresh_tokens, done.revocations, done.grants, done.sessions, done.reference_tokens, done.sign_in_attempts, done.pushed_requests, done.client_assertions, done.device_authorizations, done.registration_tokens, done.dpop_proofs, done.passkey_ceremonies, done.session_clients, done.logout_deliveries, done.signing_keys, done.audit_events
                )
            });
            Ok(())
        }
        command => admin_command(&Context::open(settings, cli.json).await?, command).await,
    }
}

/// Run an admin command on the database or through the server `ctx` names.
async fn admin_command(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Api(command) => api::run(ctx, command).await,
        Command::Client(command) => client::run(ctx, *command).await,
        Command::User(command) => user::run(ctx, command).await,
        Command::Scope(command) => scope::run(ctx, command).await,
        Command::Role(command) => role::run(ctx, command).await,
        Command::Group(command) => group::run(ctx, command).await,
        Command::Keys(command) => keys::run(ctx, command).await,
        Command::RegistrationToken(command) => registration_token::run(ctx, command).await,
        Command::Audit(command) => audit::run(ctx, command).await,
        Command::Apply(args) => apply::run_apply(ctx, args).await,
        Command::Export(args) => apply::run_export(ctx, args).await,
        Command::Admin(command) => admin::run(ctx, command).await,
        Command::Serve => Err(server_refused("serve")),
        Command::Migrate => Err(server_refused("migrate")),
        Command::Gc => Err(server_refused("gc")),
    }
}

/// The name of `command` if it works on the database only: it cannot run through the admin API.
fn local_only(command: &Command) -> Option<&'static str> {
    match command {
        Command::Serve => Some("serve"),
        Command::Migrate => Some("migrate"),
        Command::Gc => Some("gc"),
        Command::Keys(keys::KeysCommand::Rewrap { .. }) => Some("keys rewrap"),
        Command::Admin(admin::AdminCommand::Bootstrap { .. }) => Some("admin bootstrap"),
        _ => None,
    }
}

/// `command` refused with `--server`: one line saying why and what to do.
fn server_refused(command: &str) -> CliError {
    CliError::Invalid(format!(
        "`latchkey {command}` works on the database itself and cannot run with --server \
         (LATCHKEY_SERVER); run it where the database is, without --server"
    ))
}

/// `uid:N` of this process, when the environment names no user (a container, a cron job).
fn process_uid() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .ok()
            .map(|meta| format!("uid:{}", meta.uid()))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Read the text file at `path` (`-`: standard input), at most `max` bytes: `what` names it in the
/// one error line.
pub(crate) fn read_text(path: &std::path::Path, max: u64, what: &str) -> Result<String, CliError> {
    let mut text = String::new();
    let read = if path == std::path::Path::new("-") {
        std::io::stdin().take(max + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(max + 1).read_to_string(&mut text))
    };
    read.map_err(|e| CliError::Invalid(format!("cannot read {what} {}: {e}", path.display())))?;
    if text.len() as u64 > max {
        return Err(CliError::Invalid(format!(
            "{what} {} is larger than {max} bytes",
            path.display()
        )));
    }
    Ok(text)
}

/// Read a password from standard input (never from the command line, where `ps` would show it).
/// One trailing newline is dropped.
pub fn read_password_stdin() -> Result<SecretString, CliError> {
    let mut raw = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut raw)
        .map_err(|e| {
            CliError::Invalid(format!("cannot read the password from standard input: {e}"))
        })?;
    let trimmed = raw
        .strip_suffix("\r\n")
        .or_else(|| raw.strip_suffix('\n'))
        .unwrap_or(&raw);
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Format an optional value for text output.
pub(crate) fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}
