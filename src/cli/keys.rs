//! `latchkey keys …`: list signing keys and rotate them.

use clap::Subcommand;
use serde::Serialize;

use super::{CliError, Context};
use crate::clock::format_rfc3339;
use crate::domain::alg::SigningAlg;
use crate::keys::{KeyEncryptionKey, KeyRing};
use crate::store::KeyState;

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
}

#[derive(Serialize)]
struct KeyView<'a> {
    kid: &'a str,
    alg: &'a str,
    state: &'a str,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    /// When a retired key leaves the JWKS.
    published_until: Option<i64>,
}

/// Run a keys command.
pub async fn run(ctx: &Context, command: KeysCommand) -> Result<(), CliError> {
    let retention = ctx.settings.key_retention();
    match command {
        KeysCommand::List => {
            let keys = ctx.store.list_signing_keys().await?;
            let views: Vec<KeyView> = keys
                .iter()
                .map(|k| KeyView {
                    kid: &k.kid,
                    alg: &k.alg,
                    state: k.state.as_str(),
                    created_at: k.created_at,
                    activated_at: k.activated_at,
                    retired_at: k.retired_at,
                    published_until: (k.state == KeyState::Retired)
                        .then(|| k.retired_at.map(|at| at + retention))
                        .flatten(),
                })
                .collect();
            ctx.print(&views, || {
                let mut text = format!("{:<44} {:<6} {:<8} {}\n", "KID", "ALG", "STATE", "CREATED");
                for k in &views {
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
            let kek = KeyEncryptionKey::load(&ctx.settings.key_secret)?;
            let ring = KeyRing::new(kek, retention);
            // Refuse to rotate under a secret that cannot open the stored keys.
            ring.refresh(ctx.store.as_ref(), ctx.clock.now()).await?;
            let kid = ring
                .rotate(ctx.store.as_ref(), alg, ctx.clock.now())
                .await?;
            ctx.print(&serde_json::json!({ "alg": alg.as_str(), "active_kid": kid }), || {
                format!("{alg} now signs with {kid}; the previous key stays published until its tokens expire")
            });
            Ok(())
        }
    }
}
