//! `latchkey apply -f FILE` and `latchkey export`: the configuration as a YAML document kept in git
//! (`crate::admin::apply`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

use super::view::{self, shown};
use super::{CliError, Context, Via, read_text};
use crate::admin::apply::{self as admin_apply, Document, Options};
use crate::domain::client::AuthMethod;
use crate::paths::{ADMIN_APPLY_PATH, ADMIN_EXPORT_PATH};

/// The largest configuration file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The YAML file (`-`: standard input). Top-level keys: scopes, apis, roles, groups, clients, users.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete what the file does not list (never the OIDC scopes).
    #[arg(long)]
    prune: bool,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

/// Read the document at `path` (`-`: standard input), parsed as YAML (JSON is YAML too).
pub fn read_document(path: &Path) -> Result<Document, CliError> {
    let shown = path.display();
    let text = read_text(path, MAX_FILE_BYTES, "the file")?;
    if text.trim().is_empty() {
        return Ok(Document::default());
    }
    serde_saphyr::from_str(&text).map_err(|e| CliError::Invalid(format!("{shown}: {e}")))
}

/// The secrets the document's clients name (`secret_file`, relative to the document's folder, or
/// `secret_env`), by client id. They are read here and never printed.
pub fn read_secrets(
    document: &Document,
    path: &Path,
) -> Result<BTreeMap<String, SecretString>, CliError> {
    let folder = path.parent().filter(|_| path != Path::new("-"));
    let mut secrets = BTreeMap::new();
    for client in &document.clients {
        let id = &client.client_id;
        let value = match (&client.secret_file, &client.secret_env) {
            (Some(_), Some(_)) => {
                return Err(CliError::Invalid(format!(
                    "client '{id}': give secret_file or secret_env, not both"
                )));
            }
            (Some(file), None) => {
                let file = match folder {
                    Some(folder) => folder.join(file),
                    None => PathBuf::from(file),
                };
                let raw = read_text(&file, 4096, &format!("client '{id}': secret_file"))?;
                raw.trim_end_matches(['\r', '\n']).to_owned()
            }
            (None, Some(variable)) => std::env::var(variable).map_err(|_| {
                CliError::Invalid(format!(
                    "client '{id}': the environment variable {variable} (secret_env) is not set"
                ))
            })?,
            (None, None) => continue,
        };
        secrets.insert(id.clone(), SecretString::from(value));
    }
    Ok(secrets)
}

/// The outcome as text: the plan, then what happened, then each new secret (shown once).
pub fn describe(outcome: &view::Applied, dry_run: bool) -> String {
    let mut out = outcome.plan.describe();
    if outcome.plan.is_empty() {
        out.push_str("nothing to change: the store matches the file\n");
    } else if dry_run {
        out.push_str("dry run: nothing was changed\n");
    } else if outcome.applied {
        let steps =
            outcome.plan.create.len() + outcome.plan.update.len() + outcome.plan.delete.len();
        out.push_str(&format!("applied {steps} change(s) in one transaction\n"));
    }
    for (client_id, secret) in &outcome.secrets {
        out.push_str(&format!(
            "client {client_id} secret (shown once): {secret}\n"
        ));
    }
    out
}

/// Run `apply`: on the database, or through the server (`POST /admin/v1/apply`, which never
/// prunes the admin client making the request). The secrets named by the document are read here
/// either way, and travel only in the request body.
pub async fn run_apply(ctx: &Context, args: ApplyArgs) -> Result<(), CliError> {
    let document = read_document(&args.file)?;
    let secrets = read_secrets(&document, &args.file)?;
    let outcome: view::Applied = match &ctx.via {
        Via::Local(local) => {
            let options = Options {
                prune: args.prune,
                dry_run: args.dry_run,
                keep_client: None,
            };
            // Only a document with a client_secret_jwt client needs the key-encryption secret.
            let sealing = !args.dry_run
                && document.clients.iter().any(|c| {
                    c.auth_method.as_deref() == Some(AuthMethod::ClientSecretJwt.as_str())
                });
            let kek = local.key_encryption_key(sealing).await?;
            let outcome = admin_apply::apply(
                local.store.as_ref(),
                kek.as_ref(),
                &document,
                &secrets,
                &options,
                &local.actor(),
                local.clock.now(),
            )
            .await?;
            shown(&outcome)?
        }
        Via::Server(server) => {
            let secrets: BTreeMap<&str, &str> = secrets
                .iter()
                .map(|(id, secret)| (id.as_str(), secret.expose_secret()))
                .collect();
            let body = serde_json::json!({
                "document": document,
                "secrets": secrets,
                "dry_run": args.dry_run,
                "prune": args.prune,
            });
            server
                .call(Method::POST, ADMIN_APPLY_PATH, Some(&body))
                .await?
        }
    };
    ctx.print(&outcome, || describe(&outcome, args.dry_run));
    Ok(())
}

/// Write `document` as YAML (JSON with `--json`) to `output` or standard output.
pub fn write_document(
    ctx: &Context,
    document: &Document,
    output: Option<&Path>,
) -> Result<(), CliError> {
    match output {
        None => {
            ctx.print(document, || yaml(document).unwrap_or_default());
            Ok(())
        }
        Some(path) => {
            let text = if ctx.json {
                serde_json::to_string_pretty(document)
                    .map_err(|e| CliError::Invalid(format!("cannot encode the document: {e}")))?
            } else {
                yaml(document)?
            };
            std::fs::write(path, text + "\n")
                .map_err(|e| CliError::Invalid(format!("cannot write {}: {e}", path.display())))
        }
    }
}

fn yaml(document: &Document) -> Result<String, CliError> {
    serde_saphyr::to_string(document)
        .map_err(|e| CliError::Invalid(format!("cannot encode the document: {e}")))
}

/// Run `export`: from the database, or through the server (`GET /admin/v1/export`).
pub async fn run_export(ctx: &Context, args: ExportArgs) -> Result<(), CliError> {
    let document = match &ctx.via {
        Via::Local(local) => admin_apply::export(local.store.as_ref()).await?,
        Via::Server(server) => server.get(ADMIN_EXPORT_PATH).await?,
    };
    write_document(ctx, &document, args.output.as_deref())
}
