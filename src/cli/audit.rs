//! `latchkey audit list`: the audit trail, newest first.

use clap::{Args, Subcommand};

use super::{CliError, Context};
use crate::clock::format_rfc3339;
use crate::domain::audit::{AuditFilter, EventType};
use crate::domain::text::plain_text;
use crate::domain::user::normalize_username;

/// The most events one listing returns.
const MAX_LIMIT: i64 = 10_000;

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first.
    List(ListArgs),
}

/// Which events to list.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only events about this user: a username, or the user id of a deleted user.
    #[arg(long)]
    user: Option<String>,
    /// Only events about this client (its id).
    #[arg(long)]
    client: Option<String>,
    /// Only events of this type: sign_in.succeeded, sign_in.failed, consent.given, consent.denied,
    /// grant.created, refresh_token.rotated, refresh_token.reused, authorization_code.replayed,
    /// token.revoked, token.issued, admin.change, key.change.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Only events since then: an RFC 3339 time (2026-11-29T10:00:00Z) or a time ago (15m, 1h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// At most this many events (1 to 10000).
    #[arg(long, default_value_t = 100)]
    limit: i64,
}

/// Run an audit command.
pub async fn run(ctx: &Context, command: AuditCommand) -> Result<(), CliError> {
    let AuditCommand::List(args) = command;
    let filter = AuditFilter {
        user_id: match &args.user {
            Some(user) => Some(user_id_of(ctx, user).await?),
            None => None,
        },
        client_id: args
            .client
            .as_deref()
            .map(|id| identifier(id, "--client"))
            .transpose()?,
        event_type: args
            .event_type
            .as_deref()
            .map(|name| {
                EventType::parse(name).ok_or_else(|| {
                    CliError::Invalid(format!("--type: no event type '{}'", name.escape_default()))
                })
            })
            .transpose()?,
        since: match &args.since {
            Some(raw) => since(raw, ctx.clock.now())?,
            None => 0,
        },
        limit: if (1..=MAX_LIMIT).contains(&args.limit) {
            args.limit
        } else {
            return Err(CliError::Invalid(format!(
                "--limit must be between 1 and {MAX_LIMIT}"
            )));
        },
    };
    let events = ctx.store.list_audit_events(&filter).await?;
    ctx.print(&events, || {
        let mut text = format!(
            "{:<20} {:<28} {:<24} {:<24} {:<24} {}\n",
            "AT", "TYPE", "ACTOR", "USER", "CLIENT", "DETAIL"
        );
        for event in &events {
            text.push_str(&format!(
                "{:<20} {:<28} {:<24} {:<24} {:<24} {}\n",
                format_rfc3339(event.at),
                event.event_type.as_str(),
                event.actor,
                event.user_id.as_deref().unwrap_or("-"),
                event.client_id.as_deref().unwrap_or("-"),
                event.detail
            ));
        }
        text
    });
    Ok(())
}

/// The user id `--user` names: a user's username, or else (a deleted user) an id as given.
async fn user_id_of(ctx: &Context, raw: &str) -> Result<String, CliError> {
    if let Ok(username) = normalize_username(raw)
        && let Some(user) = ctx.store.find_user_by_username(&username).await?
    {
        return Ok(user.user_id.to_string());
    }
    identifier(raw, "--user")
}

/// An identifier from the command line: printable, bounded, no control characters.
fn identifier(raw: &str, flag: &str) -> Result<String, CliError> {
    plain_text(raw, flag, 256).map_err(CliError::Invalid)
}

/// `--since`: an RFC 3339 time, or a duration before `now`.
fn since(raw: &str, now: i64) -> Result<i64, CliError> {
    if let Ok(at) = humantime::parse_rfc3339_weak(raw) {
        let seconds = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        return Ok(seconds);
    }
    match crate::config::parse_duration(raw) {
        Ok(ago) => Ok(now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX))),
        Err(_) => Err(CliError::Invalid(format!(
            "--since: '{}' is neither an RFC 3339 time nor a duration (15m, 1h, 7d)",
            raw.escape_default()
        ))),
    }
}
