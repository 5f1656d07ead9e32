//! `latchkey keys …`: list signing keys and rotate them.

use clap::Subcommand;
use reqwest::Method;
use serde::Deserialize;

use super::view::{self, shown};
use super::{CliError, Context, Via};
use crate::clock::format_rfc3339;
use crate::config::SecretSource;
use crate::domain::alg::SigningAlg;
use crate::keys::{self, KeyEncryptionKey, KeyRing};
use crate::paths::{ADMIN_KEYS_PATH, ADMIN_KEYS_ROTATE_PATH};

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state.
    List,
    /// Rotate: the published next key starts signing, the active key retires (still published
    /// until its tokens expire), and a new next key is published. Running servers pick it up
    /// within --key-refresh-interval.
    Rotate {
        /// The algorithm to rotate.
        #[arg(long, default_value = "RS256")]
        alg: SigningAlg,
    },
    /// Re-encrypt every stored signing key, and every client_secret_jwt client's secret, under a
    /// new key-encryption secret, in one transaction.
    /// Then restart every instance with the new secret (the old one no longer opens the keys).
    Rewrap {
        /// A file holding the new secret (at least 32 characters; surrounding whitespace ignored).
        #[arg(long = "new-secret-file")]
        new_secret_file: std::path::PathBuf,
    },
}

/// Run a keys command.
pub async fn run(ctx: &Context, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::List => {
            let keys: Vec<view::Key> = match &ctx.via {
                Via::Local(local) => {
                    let policy = local.settings.key_policy();
                    let retention = keys::retention(local.store.as_ref(), &policy).await?;
                    let keys = local.store.list_signing_keys().await?;
                    shown(&crate::admin::key::views(&keys, retention))?
                }
                Via::Server(server) => server.get(ADMIN_KEYS_PATH).await?,
            };
            ctx.print(&keys, || {
                let mut text = format!("{:<44} {:<6} {:<8} {}\n", "KID", "ALG", "STATE", "CREATED");
                for k in &keys {
                    text.push_str(&format!(
                        "{:<44} {:<6} {:<8} {}\n",
                        k.kid,
                        k.alg,
                        k.state,
                        format_rfc3339(k.created_at)
                    ));
                }
                text
            });
            Ok(())
        }
        KeysCommand::Rotate { alg } => {
            let kid = match &ctx.via {
                Via::Local(local) => {
                    let kek = KeyEncryptionKey::load(&local.settings.key_secret)?;
                    let ring = KeyRing::new(kek, local.settings.key_policy());
                    // Refuse to rotate under a secret that cannot open the stored keys.
                    ring.refresh(local.store.as_ref(), local.clock.now())
                        .await?;
                    let kid = ring
                        .rotate(local.store.as_ref(), alg, local.clock.now())
                        .await?;
                    local
                        .record(
                            local
                                .change("key", "rotated", &kid)
                                .with("alg", alg.as_str()),
                        )
                        .await?;
                    kid
                }
                Via::Server(server) => {
                    #[derive(Deserialize)]
                    struct Rotated {
                        active_kid: String,
                    }
                    let body = serde_json::json!({ "alg": alg.as_str() });
                    let rotated: Rotated = server
                        .call(Method::POST, ADMIN_KEYS_ROTATE_PATH, Some(&body))
                        .await?;
                    rotated.active_kid
                }
            };
            ctx.print(&serde_json::json!({ "alg": alg.as_str(), "active_kid": kid }), || {
                format!("{alg} now signs with {kid}; the previous key stays published until its tokens expire")
            });
            Ok(())
        }
        KeysCommand::Rewrap { new_secret_file } => {
            let local = ctx.local("keys rewrap")?;
            let kek = KeyEncryptionKey::load(&local.settings.key_secret)?;
            let new_kek = KeyEncryptionKey::load(&SecretSource::File(new_secret_file))?;
            let ring = KeyRing::new(kek, local.settings.key_policy());
            // Every key must open under the current secret before anything is written.
            let resealed = ring.reseal(local.store.as_ref(), &new_kek).await?;
            local
                .store
                .rewrap_sealed_secrets(&resealed.signing_keys, &resealed.client_secrets)
                .await?;
            let count = resealed.signing_keys.len();
            let clients = resealed.client_secrets.len();
            local
                .record(
                    local
                        .change("key", "rewrapped", "*")
                        .with("keys", count)
                        .with("client_secrets", clients),
                )
                .await?;
            ctx.print(
                &serde_json::json!({ "rewrapped": count, "client_secrets": clients }),
                || {
                    format!(
                        "re-encrypted {count} signing keys and {clients} client_secret_jwt secrets under the new \
                         secret; restart every instance with it \
                         (--key-encryption-secret-file or LATCHKEY_KEY_ENCRYPTION_SECRET_FILE)"
                    )
                },
            );
            Ok(())
        }
    }
}
