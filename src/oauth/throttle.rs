//! Failed sign-in counting: a username or address with too many recent failures is refused for a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed sign-ins allowed per username within [`WINDOW`] before further attempts are refused.
pub const MAX_FAILURES_PER_USERNAME: u32 = 5;
/// Failed sign-ins allowed per client address within [`WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// The throttling window, in seconds.
pub const WINDOW: i64 = 15 * 60;
const MAX_TRACKED: usize = 100_000;

/// Counts failed sign-ins per username and per address, in memory, per instance.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl LoginThrottle {
    fn keys(username: &str, address: IpAddr) -> [(String, u32); 2] {
        [
            (format!("user:{username}"), MAX_FAILURES_PER_USERNAME),
            (format!("addr:{address}"), MAX_FAILURES_PER_ADDRESS),
        ]
    }

    /// Seconds until another attempt is allowed, if the username or address is locked out.
    pub fn locked_for(&self, username: &str, address: IpAddr, now: i64) -> Option<i64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(username, address)
            .iter()
            .filter_map(|(key, max)| {
                let (count, since) = failures.get(key)?;
                (*count >= *max && now - since < WINDOW).then(|| WINDOW - (now - since))
            })
            .max()
    }

    /// Count a failed attempt.
    pub fn record_failure(&self, username: &str, address: IpAddr, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now - *since < WINDOW);
        }
        for (key, _) in Self::keys(username, address) {
            let entry = failures.entry(key).or_insert((0, now));
            if now - entry.1 >= WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// Forget a username's failures after a successful sign-in.
    pub fn record_success(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&format!("user:{username}"));
    }
}
