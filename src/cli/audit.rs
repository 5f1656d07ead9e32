//! `latchkey audit list`: the audit trail, newest first.

use clap::{Args, Subcommand};

use super::{CliError, Context};
use crate::admin::audit::{Query, filter};
use crate::clock::format_rfc3339;

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
    let query = Query {
        user: args.user,
        client: args.client,
        event_type: args.event_type,
        since: args.since,
        limit: Some(args.limit),
    };
    let filter = filter(ctx.store.as_ref(), &query, ctx.clock.now()).await?;
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
