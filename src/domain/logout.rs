//! OpenID Connect Back-Channel Logout 1.0: the logout tokens waiting to be delivered, and the
//! retry schedule.
//!
//! Ending a session writes one [`LogoutDelivery`] per client the session signed in to, in the
//! same transaction that ends it (an outbox): whichever server instance claims a delivery first
//! signs the logout token and POSTs it, so the user's request never waits on a client, and a sign-out
//! made with the CLI on the database is delivered by the running servers.

use super::client::ClientId;
use super::user::UserId;

/// A logout token to deliver to one client for one ended session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// The logout token's `jti` (§2.4), the same on every attempt so the client can tell a retry
    /// of a token it already acted on.
    pub jti: String,
    /// The client to notify (its `backchannel_logout_uri` is read when delivering).
    pub client_id: ClientId,
    /// The user whose session ended (`sub`).
    pub sub: UserId,
    /// The session that ended (`sid`).
    pub sid: String,
    /// Attempts made so far, this one included once claimed.
    pub attempts: i64,
    /// When the session ended.
    pub created_at: i64,
}

/// How many times a logout token is offered to a client before it is given up.
pub const MAX_ATTEMPTS: i64 = 5;

/// How long a claimed delivery is hidden from other instances: longer than one attempt can take
/// (the request's timeout), so two instances never deliver the same token at once, and short enough
/// that a delivery claimed by an instance that then died is taken up again soon.
pub const CLAIM_LEASE: i64 = 60;

/// A delivery older than this is dropped by housekeeping whatever its state (a safety net: the
/// retries end long before).
pub const DELIVERY_RETENTION: i64 = 24 * 60 * 60;

/// When to try again after the `attempts`-th attempt failed: 5 s, 30 s, 2 min, then 10 min;
/// `None` once [`MAX_ATTEMPTS`] have been made.
pub fn retry_delay(attempts: i64) -> Option<i64> {
    match attempts {
        ..=1 => Some(5),
        2 => Some(30),
        3 => Some(120),
        4 => Some(600),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stop_after_the_last_attempt() {
        let delays: Vec<_> = (1..=MAX_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(delays, [Some(5), Some(30), Some(120), Some(600), None]);
    }
}
