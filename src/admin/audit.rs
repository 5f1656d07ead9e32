//! Reading the audit trail: the filter the CLI's `audit list` and the admin API's
//! `GET /admin/v1/audit-events` both build, with the same rules and messages.

use super::AdminError;
use crate::domain::audit::{AuditFilter, EventType};
use crate::domain::text::plain_text;
use crate::domain::user::normalize_username;
use crate::store::Store;

/// The most events one listing returns.
pub const MAX_LIMIT: i64 = 10_000;
/// How many events a listing returns when it does not say.
pub const DEFAULT_LIMIT: i64 = 100;

/// What a listing asks for, as given (command-line flags or query parameters).
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// A username, or the id of a deleted user.
    pub user: Option<String>,
    /// A client id.
    pub client: Option<String>,
    /// An event type (`sign_in.failed`, `admin.change`, …).
    #[serde(rename = "type")]
    #[param(value_type = Option<EventType>)]
    pub event_type: Option<String>,
    /// Events at or after an RFC 3339 time, or a time ago (`15m`, `7d`).
    pub since: Option<String>,
    /// How many events at most, newest first.
    // 10000 is MAX_LIMIT: `param` takes only literals, and a test holds the two equal.
    #[param(minimum = 1, maximum = 10000, default = json!(DEFAULT_LIMIT))]
    pub limit: Option<i64>,
}

/// The store filter `query` means at `now`; `Invalid` names the parameter at fault.
pub async fn filter(store: &dyn Store, query: &Query, now: i64) -> Result<AuditFilter, AdminError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::Invalid(format!(
            "--limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    Ok(AuditFilter {
        user_id: match &query.user {
            Some(user) => Some(user_id_of(store, user).await?),
            None => None,
        },
        client_id: query
            .client
            .as_deref()
            .map(|id| identifier(id, "--client"))
            .transpose()?,
        event_type: query
            .event_type
            .as_deref()
            .map(|name| {
                EventType::parse(name).ok_or_else(|| {
                    AdminError::Invalid(format!(
                        "--type: no event type '{}'",
                        name.escape_default()
                    ))
                })
            })
            .transpose()?,
        since: match &query.since {
            Some(raw) => since(raw, now)?,
            None => 0,
        },
        limit,
    })
}

/// The user id `user` names: a user's username, or else (a deleted user) an id as given.
async fn user_id_of(store: &dyn Store, raw: &str) -> Result<String, AdminError> {
    if let Ok(username) = normalize_username(raw)
        && let Some(user) = store.find_user_by_username(&username).await?
    {
        return Ok(user.user_id.to_string());
    }
    identifier(raw, "--user")
}

/// An identifier as given: printable, bounded, no control characters.
fn identifier(raw: &str, flag: &str) -> Result<String, AdminError> {
    plain_text(raw, flag, 256).map_err(AdminError::Invalid)
}

/// `since`: an RFC 3339 time, or a duration before `now`.
fn since(raw: &str, now: i64) -> Result<i64, AdminError> {
    if let Ok(at) = humantime::parse_rfc3339_weak(raw) {
        let seconds = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        return Ok(seconds);
    }
    match crate::config::parse_duration(raw) {
        Ok(ago) => Ok(now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX))),
        Err(_) => Err(AdminError::Invalid(format!(
            "--since: '{}' is neither an RFC 3339 time nor a duration (15m, 1h, 7d)",
            raw.escape_default()
        ))),
    }
}
