//! Attempt counters: what the store counts so a limit on attempts holds across instances and under
//! concurrency (DESIGN.md "Errors and bad input"; OWASP ASVS 2.2.1).

use super::secret::TokenHash;

/// One counter an attempt is charged to: counted in windows of `window` seconds, each starting at its
/// first attempt, allowing `limit` attempts per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCounter {
    /// The SHA-256 of the counter's name (names may hold what a user typed as their username).
    pub key: TokenHash,
    /// Attempts allowed per window.
    pub limit: u32,
    /// The window's length, in seconds.
    pub window: i64,
}

/// The answer to a reservation of one attempt on several counters at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Every counter was below its limit; each now counts this attempt.
    Reserved,
    /// At least one counter was at its limit; none counts this attempt.
    Refused {
        /// Seconds until every full counter's window has ended.
        retry_after: i64,
    },
}
