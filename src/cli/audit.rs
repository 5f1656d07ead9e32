//! `latchkey audit list`: the audit trail, newest first.

use clap::{Args, Subcommand};

use super::view::{self, shown};
use super::{CliError, Context, Via};
use crate::admin::audit::{Query, filter};
use crate::clock::format_rfc3339;
use crate::paths::ADMIN_AUDIT_EVENTS_PATH;

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
    /// token.revoked, token.issued, admin.change, key.change, client.registration,
    /// second_factor.enrolled, account.password_changed, account.session_ended,
    /// account.consent_revoked, account.second_factor_removed, account.recovery_codes_regenerated.
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
    let events: Vec<view::Event> = match &ctx.via {
        Via::Local(local) => {
            let filter = filter(local.store.as_ref(), &query, local.clock.now()).await?;
            shown(&local.store.list_audit_events(&filter).await?)?
        }
        Via::Server(server) => server.get(&events_path(&query)).await?,
    };
    ctx.print(&events, || {
        let mut text = format!(
            "{:<20} {:<28} {:<24} {:<24} {:<24} {}\n",
            "AT", "TYPE", "ACTOR", "USER", "CLIENT", "DETAIL"
        );
        for event in &events {
            text.push_str(&format!(
                "{:<20} {:<28} {:<24} {:<24} {:<24} {}\n",
                format_rfc3339(event.at),
                event.event_type,
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

/// `GET /admin/v1/audit-events?…`: the query as its parameters (the names `Query` reads).
fn events_path(query: &Query) -> String {
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    let given = [
        ("user", query.user.as_deref()),
        ("client", query.client.as_deref()),
        ("type", query.event_type.as_deref()),
        ("since", query.since.as_deref()),
    ];
    for (name, value) in given {
        if let Some(value) = value {
            params.append_pair(name, value);
        }
    }
    if let Some(limit) = query.limit {
        params.append_pair("limit", &limit.to_string());
    }
    format!("{ADMIN_AUDIT_EVENTS_PATH}?{}", params.finish())
}
