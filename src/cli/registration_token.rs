//! `latchkey registration-token …`: the initial access tokens of dynamic client registration
//! (RFC 7591 §3).

use clap::Subcommand;
use reqwest::Method;

use super::view::{self, shown};
use super::{CliError, Context, Via, remote};
use crate::admin::registration_token::{self as admin_token, RegistrationTokenView};
use crate::paths::{ADMIN_REGISTRATION_TOKEN_PATH, ADMIN_REGISTRATION_TOKENS_PATH};

/// Registration token commands.
#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token for `POST /register`; its value is shown once.
    Create {
        /// How long it stays usable (e.g. `7d`, `12h`); default: until revoked.
        #[arg(long, value_parser = crate::config::parse_duration)]
        expires: Option<std::time::Duration>,
        /// How many clients it may register; default: any number.
        #[arg(long)]
        max_uses: Option<u32>,
    },
    /// List the initial access tokens (never their values).
    List,
    /// Revoke an initial access token: it registers nothing more (its clients stay).
    Revoke {
        /// Its id, from `registration-token list`.
        token_id: String,
    },
}

/// Run a registration token command.
pub async fn run(ctx: &Context, command: RegistrationTokenCommand) -> Result<(), CliError> {
    match command {
        RegistrationTokenCommand::Create { expires, max_uses } => {
            let expires_in = expires.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let created: view::NewRegistrationToken = match &ctx.via {
                Via::Local(local) => {
                    let created = admin_token::create(
                        local.store.as_ref(),
                        expires_in,
                        max_uses,
                        local.clock.now(),
                    )
                    .await?;
                    let token = &created.token;
                    local
                        .record(
                            local
                                .change("registration_token", "created", &token.token_id)
                                .with("expires_at", token.expires_at)
                                .with("max_uses", token.max_uses),
                        )
                        .await?;
                    view::NewRegistrationToken {
                        token: shown(&RegistrationTokenView::from(token))?,
                        registration_token: created.value,
                    }
                }
                Via::Server(server) => {
                    let body = serde_json::json!({
                        "expires_in": expires_in,
                        "max_uses": max_uses,
                    });
                    server
                        .call(Method::POST, ADMIN_REGISTRATION_TOKENS_PATH, Some(&body))
                        .await?
                }
            };
            ctx.print(&created, || {
                format!(
                    "created registration token {}\n{}\n(shown once: pass it as `Authorization: Bearer` to POST /register)",
                    created.token.token_id, created.registration_token
                )
            });
            Ok(())
        }
        RegistrationTokenCommand::List => {
            let tokens: Vec<view::RegistrationToken> = match &ctx.via {
                Via::Local(local) => {
                    let tokens = local.store.list_registration_tokens().await?;
                    shown(
                        &tokens
                            .iter()
                            .map(RegistrationTokenView::from)
                            .collect::<Vec<_>>(),
                    )?
                }
                Via::Server(server) => server.get(ADMIN_REGISTRATION_TOKENS_PATH).await?,
            };
            ctx.print(&tokens, || {
                let mut text = format!(
                    "{:<14} {:<21} {:<21} {}\n",
                    "TOKEN", "CREATED", "EXPIRES", "USES"
                );
                for t in &tokens {
                    let uses = match t.max_uses {
                        Some(max) => format!("{}/{max}", t.uses),
                        None => t.uses.to_string(),
                    };
                    text.push_str(&format!(
                        "{:<14} {:<21} {:<21} {}\n",
                        t.token_id,
                        crate::clock::format_rfc3339(t.created_at),
                        t.expires_at
                            .map_or("never".to_owned(), crate::clock::format_rfc3339),
                        uses
                    ));
                }
                text
            });
            Ok(())
        }
        RegistrationTokenCommand::Revoke { token_id } => {
            match &ctx.via {
                Via::Local(local) => {
                    admin_token::revoke(local.store.as_ref(), &token_id).await?;
                    local
                        .record(local.change("registration_token", "revoked", &token_id))
                        .await?;
                }
                Via::Server(server) => {
                    let path = remote::path(ADMIN_REGISTRATION_TOKEN_PATH, &[&token_id])?;
                    server.call_done(Method::DELETE, &path).await?;
                }
            }
            ctx.print(&serde_json::json!({ "revoked": token_id }), || {
                format!("revoked registration token {token_id}")
            });
            Ok(())
        }
    }
}
