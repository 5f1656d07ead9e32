//! `latchkey keys …`: list signing keys and rotate them.

use clap::Subcommand;

use super::{CliError, Context};
use crate::clock::format_rfc3339;
use crate::config::SecretSource;
use crate::domain::alg::SigningAlg;
use crate::keys::{self, KeyEncryptionKey, KeyRing};

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
    /// Re-encrypt every stored signing key under a new key-encryption secret, in one transaction.
    /// Then restart every instance with the new secret (the old one no longer opens the keys).
    Rewrap {
        /// A file holding the new secret (at least 32 characters; surrounding whitespace ignored).
        #[arg(long = "new-secret-file")]
        new_secret_file: std::path::PathBuf,
    },
}

/// Run a keys command.
pub async fn run(ctx: &Context, command: KeysCommand) -> Result<(), CliError> {
    let policy = ctx.settings.key_policy();
    match command {
        KeysCommand::List => {
            let retention = keys::retention(ctx.store.as_ref(), &policy).await?;
            let keys = ctx.store.list_signing_keys().await?;
            let views = crate::admin::key::views(&keys, retention);
            ctx.print(&views, || {
                let mut text = format!("{:<44} {:<6} {:<8} {}\n", "KID", "ALG", "STATE", "CREATED");
                for k in &views {
                    text.push_str(&format!(
                        "{:<44} {:<6} {:<8} {}\n",
                        k.kid,
                        k.alg,
                        k.state,
                        format_rfc3339(k.created)
                    ));
                }
                text
            });
            Ok(())
        }
        KeysCommand::Rotate { alg } => {
            let kek = KeyEncryptionKey::load(&ctx.settings.key_secret)?;
            let ring = KeyRing::new(kek, policy);
            // Refuse to rotate under a secret that cannot open the stored keys.
            ring.refresh(ctx.store.as_ref(), ctx.clock.now()).await?;
            let kid = ring
                .rotate(ctx.store.as_ref(), alg, ctx.clock.now())
                .await?;
            ctx.record(ctx.change("key", "rotated", &kid).with("alg", alg.as_str()))
                .await?;
            ctx.print(&serde_json::json!({ "alg": alg.as_str(), "active_kid": kid }), || {
                format!("{alg} now signs with {kid}; the previous key stays published until its tokens expire")
            });
            Ok(())
        }
        KeysCommand::Rewrap { new_secret_file } => {
            let kek = KeyEncryptionKey::load(&ctx.settings.key_secret)?;
            let new_kek = KeyEncryptionKey::load(&SecretSource::File(new_secret_file))?;
            let ring = KeyRing::new(kek, policy);
            // Every key must open under the current secret before anything is written.
            let sealed = ring.reseal(ctx.store.as_ref(), &new_kek).await?;
            ctx.store.rewrap_signing_keys(&sealed).await?;
            let count = sealed.len();
            ctx.record(ctx.change("key", "rewrapped", "*").with("keys", count))
                .await?;
            ctx.print(&serde_json::json!({ "rewrapped": count }), || {
                format!(
                    "re-encrypted {count} signing keys under the new secret; restart every instance with it \
                     (--key-encryption-secret-file or LATCHKEY_KEY_ENCRYPTION_SECRET_FILE)"
                )
            });
            Ok(())
        }
    }
}
