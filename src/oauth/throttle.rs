//! The sign-in throttle: which counters a sign-in attempt is charged to, their limits, and the network
//! of an address. An attempt is reserved in the store before the password is checked (OWASP ASVS
//! 2.2.1, NIST SP 800-63B §5.2.2), so the limits hold under concurrency and across instances.
//!
//! Three counters, each in windows of [`WINDOW`] starting at a window's first attempt:
//! - per (username, network), [`MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK`]: low, what one network may
//!   spend on one username;
//! - per username, [`MAX_ATTEMPTS_PER_USERNAME`]: the account's own cap, against guesses spread over
//!   many networks. Because one network can spend only a quarter of it, someone who wants to lock the
//!   real user out needs several networks at once, and the lockout ends one window after they stop;
//! - per network, [`MAX_ATTEMPTS_PER_NETWORK`]: across usernames, against password spraying.
//!
//! A reservation is all or nothing: an attempt refused by one counter is counted by none, so hammering
//! a locked (username, network) pair never eats into the username's or network's allowance.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::domain::attempt::{AttemptCounter, Reservation};
use crate::domain::secret::TokenHash;
use crate::store::{Store, StoreError};

/// The throttling window, in seconds: 15 minutes from a counter's first attempt.
pub const WINDOW: i64 = 15 * 60;

/// Sign-in attempts one network may make on one username per [`WINDOW`]: enough for a person's typing
/// errors, and the only limit an attacker on one network can reach for that username (OWASP ASVS
/// 2.2.1 "soft lockouts"; NIST SP 800-63B §5.2.2 rate limiting).
pub const MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK: u32 = 5;

/// Sign-in attempts on one username per [`WINDOW`], from every network together. Any hour overlaps at
/// most five windows (each starts at least [`WINDOW`] after the previous one began), so 20 keeps an
/// account at no more than 100 failed attempts in any hour (OWASP ASVS 2.2.1; NIST SP 800-63B §5.2.2
/// allows no more than 100 consecutive failures). At four times the per-network allowance, locking
/// the real user out takes at least four networks attacking at once.
pub const MAX_ATTEMPTS_PER_USERNAME: u32 = 20;

/// Sign-in attempts from one network per [`WINDOW`], across usernames: bounds password spraying (one
/// password tried on many accounts, OWASP ASVS 2.2.1) to 50 guesses per 15 minutes per network, while
/// leaving room for the typing errors of many people behind one NAT (successful sign-ins do not stay
/// counted).
pub const MAX_ATTEMPTS_PER_NETWORK: u32 = 50;

// One network alone must not be able to lock a username out everywhere.
const _: () = assert!(MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK < MAX_ATTEMPTS_PER_USERNAME);

/// The network an address is counted under: an IPv4 address, or the /64 of an IPv6 address (one
/// subscriber usually holds a whole /64, so counting single IPv6 addresses would be no limit at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 /64, its host bits zero.
    V6(Ipv6Addr),
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(address) => write!(f, "{address}"),
            Self::V6(prefix) => write!(f, "{prefix}/64"),
        }
    }
}

/// The network of `address`. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack
/// listener reports IPv4 peers) is its IPv4 address.
pub fn network_of(address: IpAddr) -> Network {
    match address.to_canonical() {
        IpAddr::V4(v4) => Network::V4(v4),
        IpAddr::V6(v6) => Network::V6(Ipv6Addr::from_bits(v6.to_bits() & (u128::MAX << 64))),
    }
}

/// The counters an attempt to sign in as `username` from `network` is charged to, in this order:
/// per (username, network), per username, per network. Their names are hashed: a username field may
/// hold a mistyped password.
pub fn counters(username: &str, network: Network) -> [AttemptCounter; 3] {
    // Usernames hold no control characters, so '\n' separates the parts unambiguously.
    let counter = |name: String, limit| AttemptCounter {
        key: TokenHash::of(&name),
        limit,
        window: WINDOW,
    };
    [
        counter(
            format!("username+network\n{username}\n{network}"),
            MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK,
        ),
        counter(format!("username\n{username}"), MAX_ATTEMPTS_PER_USERNAME),
        counter(format!("network\n{network}"), MAX_ATTEMPTS_PER_NETWORK),
    ]
}

/// Whether a sign-in attempt may go on to the password check.
#[derive(Debug)]
pub enum Admission {
    /// Reserved: check the password, and report a success with [`Attempt::succeeded`].
    Admitted(Attempt),
    /// A limit is reached: refuse without checking the password, for `retry_after` seconds.
    Refused {
        /// Seconds until the attempt would be allowed.
        retry_after: i64,
    },
}

/// A reserved sign-in attempt.
#[derive(Debug)]
pub struct Attempt {
    counters: [AttemptCounter; 3],
    reserved_at: i64,
}

/// Reserve an attempt to sign in as `username` from `address` at `now`, before any password work
/// (OWASP ASVS 2.2.1). Every attempt is counted, whatever its outcome, including one then refused
/// because the password checkers are busy: only a success gives its attempt back.
pub async fn admit(
    store: &dyn Store,
    username: &str,
    address: IpAddr,
    now: i64,
) -> Result<Admission, StoreError> {
    let counters = counters(username, network_of(address));
    Ok(match store.reserve_attempts(&counters, now).await? {
        Reservation::Reserved => Admission::Admitted(Attempt {
            counters,
            reserved_at: now,
        }),
        Reservation::Refused { retry_after } => Admission::Refused { retry_after },
    })
}

impl Attempt {
    /// The attempt signed the user in.
    ///
    /// The (username, network) counter is cleared: the user has just shown the password from this
    /// network, so their earlier typing errors there are forgiven. The username and network counters
    /// only get this attempt back, so they count failures alone (a NAT full of people signing in
    /// never fills its network counter), but are not cleared: a success must not wipe guesses others
    /// made at the username from elsewhere, nor let an attacker with one valid account reset their
    /// network's count between guesses at other accounts.
    pub async fn succeeded(self, store: &dyn Store) -> Result<(), StoreError> {
        let [pair, username, network] = self.counters;
        store.clear_attempts(&[pair.key]).await?;
        store
            .refund_attempts(&[username.key, network.key], self.reserved_at)
            .await
    }
}

/// Device user codes (RFC 8628 §5.1) one network may try per [`WINDOW`]. A user code is 8 of 20
/// letters, about 2^34.6 values; at 10 guesses per network per window, one network finds a code
/// among even 1,000 pending ones with odds below 1 in 2.5 million per window, while a person who
/// mistypes has room for several tries.
pub const MAX_USER_CODE_ATTEMPTS_PER_NETWORK: u32 = 10;

/// The counter a user-code attempt from `network` is charged to (a name of its own, apart from
/// the sign-in counters).
pub fn user_code_counter(network: Network) -> AttemptCounter {
    AttemptCounter {
        key: TokenHash::of(&format!("user_code+network\n{network}")),
        limit: MAX_USER_CODE_ATTEMPTS_PER_NETWORK,
        window: WINDOW,
    }
}

/// A reserved user-code attempt (RFC 8628 §5.1): reserved before the look-up, given back when
/// the code was right, so only wrong codes stay counted.
#[derive(Debug)]
pub struct UserCodeAttempt {
    counter: AttemptCounter,
    reserved_at: i64,
}

/// Reserve an attempt to enter a user code from `address` at `now`, before the code is looked up:
/// `Ok(attempt)`, or `Err(retry_after)` seconds when the network's limit is reached.
pub async fn admit_user_code(
    store: &dyn Store,
    address: IpAddr,
    now: i64,
) -> Result<Result<UserCodeAttempt, i64>, StoreError> {
    let counter = user_code_counter(network_of(address));
    Ok(
        match store
            .reserve_attempts(std::slice::from_ref(&counter), now)
            .await?
        {
            Reservation::Reserved => Ok(UserCodeAttempt {
                counter,
                reserved_at: now,
            }),
            Reservation::Refused { retry_after } => Err(retry_after),
        },
    )
}

impl UserCodeAttempt {
    /// The code was right: give the attempt back.
    pub async fn succeeded(self, store: &dyn Store) -> Result<(), StoreError> {
        store
            .refund_attempts(&[self.counter.key], self.reserved_at)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn the_network_of_an_address() {
        let cases = [
            ("IPv4 is its own network", "192.0.2.7", "192.0.2.7"),
            (
                "IPv6 is grouped by /64",
                "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
                "2001:db8:1:2::/64",
            ),
            (
                "IPv6 /64 with zero host bits",
                "2001:db8:1:2::",
                "2001:db8:1:2::/64",
            ),
            ("IPv4-mapped IPv6 is IPv4", "::ffff:192.0.2.7", "192.0.2.7"),
            ("IPv6 loopback", "::1", "::/64"),
        ];
        for (name, address, network) in cases {
            assert_eq!(network_of(ip(address)).to_string(), network, "{name}");
        }
    }

    #[test]
    fn addresses_share_counters_exactly_when_they_share_a_network() {
        let key_of = |address: &str| counters("alice", network_of(ip(address)));
        let cases = [
            ("one /64", "2001:db8::1", "2001:db8::ffff:1", true),
            (
                "neighbouring /64s",
                "2001:db8:0:1::1",
                "2001:db8:0:2::1",
                false,
            ),
            (
                "IPv4 and its mapped form",
                "192.0.2.7",
                "::ffff:192.0.2.7",
                true,
            ),
            (
                "neighbouring IPv4 addresses",
                "192.0.2.7",
                "192.0.2.8",
                false,
            ),
        ];
        for (name, a, b, shared) in cases {
            let (a, b) = (key_of(a), key_of(b));
            assert_eq!(a[0].key == b[0].key, shared, "{name}: username+network");
            assert_eq!(a[2].key == b[2].key, shared, "{name}: network");
            assert_eq!(a[1].key, b[1].key, "{name}: the username counter is shared");
        }
    }

    #[test]
    fn each_counter_has_its_own_key_and_limit() {
        let [pair, username, network] = counters("alice", network_of(ip("192.0.2.7")));
        assert_eq!(pair.limit, MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK);
        assert_eq!(username.limit, MAX_ATTEMPTS_PER_USERNAME);
        assert_eq!(network.limit, MAX_ATTEMPTS_PER_NETWORK);
        assert!(pair.key != username.key && username.key != network.key && pair.key != network.key);
        let [_, bob, bob_network] = counters("bob", network_of(ip("192.0.2.7")));
        assert!(bob.key != username.key);
        assert_eq!(bob_network.key, network.key);
    }

    async fn store() -> SqliteStore {
        let store = SqliteStore::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    async fn admitted(store: &dyn Store, username: &str, address: &str, now: i64) -> bool {
        matches!(
            admit(store, username, ip(address), now).await.unwrap(),
            Admission::Admitted(_)
        )
    }

    #[tokio::test]
    async fn limits_per_username_and_network_then_username_then_network() {
        let store = store().await;
        let now = 1_000_000;
        // ASVS 2.2.1: one network gets 5 attempts at one username.
        for _ in 0..MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK {
            assert!(admitted(&store, "alice", "192.0.2.1", now).await);
        }
        match admit(&store, "alice", ip("192.0.2.1"), now + 60)
            .await
            .unwrap()
        {
            Admission::Refused { retry_after } => assert_eq!(retry_after, WINDOW - 60),
            Admission::Admitted(_) => panic!("the sixth attempt from one network is refused"),
        }
        // Another address of the same IPv6 /64 is the same network; another /64 is not.
        for _ in 0..MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK {
            assert!(admitted(&store, "alice", "2001:db8:0:1::1", now).await);
        }
        assert!(!admitted(&store, "alice", "2001:db8:0:1::2", now).await);
        assert!(admitted(&store, "alice", "2001:db8:0:2::1", now).await);
        // The same network may still try other usernames, up to the network limit.
        let spent = 1 + MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK; // alice + "mallory0"
        assert!(admitted(&store, "mallory0", "192.0.2.1", now).await);
        for n in spent..MAX_ATTEMPTS_PER_NETWORK {
            assert!(admitted(&store, &format!("mallory{n}"), "192.0.2.1", now).await);
        }
        assert!(!admitted(&store, "someone-else", "192.0.2.1", now).await);
        // After the window, everything is allowed again.
        assert!(admitted(&store, "alice", "192.0.2.1", now + WINDOW).await);
    }

    #[tokio::test]
    async fn a_success_forgives_its_network_but_refunds_only_itself_elsewhere() {
        let store = store().await;
        let now = 1_000_000;
        for _ in 0..MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK - 1 {
            assert!(admitted(&store, "alice", "192.0.2.1", now).await);
        }
        let Admission::Admitted(attempt) =
            admit(&store, "alice", ip("192.0.2.1"), now).await.unwrap()
        else {
            panic!("the fifth attempt is allowed");
        };
        attempt.succeeded(&store).await.unwrap();
        // The pair counter is cleared: five more attempts from this network.
        for _ in 0..MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK {
            assert!(admitted(&store, "alice", "192.0.2.1", now).await);
        }
        assert!(!admitted(&store, "alice", "192.0.2.1", now).await);
        // The username counter kept the 4 earlier failures and the 5 new ones: 9 are spent.
        let networks =
            (MAX_ATTEMPTS_PER_USERNAME - 9).div_ceil(MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK);
        let mut allowed = 0;
        for n in 0..=networks {
            for _ in 0..MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK {
                if admitted(&store, "alice", &format!("198.51.100.{n}"), now).await {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, MAX_ATTEMPTS_PER_USERNAME - 9);
    }
}
