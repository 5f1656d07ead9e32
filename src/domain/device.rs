//! The device authorization grant's values (RFC 8628): user codes (§6.1), the stored device
//! authorization, and what a poll of the token endpoint finds (§3.4, §3.5).

use aws_lc_rs::rand;

use super::api::Audience;
use super::authn::Authentication;
use super::client::ClientId;
use super::scope::ScopeSet;
use super::secret::TokenHash;
use super::user::UserId;

pub use super::client::DEVICE_CODE_GRANT;

/// The prefix of device codes (256 random bits follow).
pub const DEVICE_CODE_PREFIX: &str = "lk_dc_";

/// RFC 8628 §3.2 `expires_in`: how long the user has to enter the code and approve, in seconds.
pub const DEVICE_CODE_LIFETIME: i64 = 600;

/// RFC 8628 §3.2 `interval`: the least number of seconds between polls (the RFC's default).
pub const POLL_INTERVAL: i64 = 5;

/// RFC 8628 §3.5 `slow_down`: "the interval MUST be increased by 5 seconds for this and all
/// subsequent requests".
pub const SLOW_DOWN_STEP: i64 = 5;

/// RFC 8628 §6.1: twenty consonants, no vowels (no words by accident) and no easily confused
/// characters; case-insensitive. 20^8 ≈ 2^34.6 codes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters in a user code (shown as two groups of four).
pub const USER_CODE_LENGTH: usize = 8;

/// A user code in its canonical form: 8 letters of [`USER_CODE_ALPHABET`], upper case, no dash.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode([redacted])")
    }
}

impl UserCode {
    /// A new random code (uniform over the alphabet: bytes of 240 or more are drawn again).
    pub fn generate() -> Self {
        let mut code = String::with_capacity(USER_CODE_LENGTH);
        let mut buf = [0u8; 16];
        while code.len() < USER_CODE_LENGTH {
            // AWS-LC's RAND_bytes aborts the process rather than return failure.
            let _ = rand::fill(&mut buf);
            for byte in buf {
                if code.len() < USER_CODE_LENGTH && byte < 240 {
                    code.push(char::from(USER_CODE_ALPHABET[usize::from(byte % 20)]));
                }
            }
        }
        Self(code)
    }

    /// RFC 8628 §6.1: the code as a person typed it, in any case, with or without the dash (spaces
    /// and dashes are dropped); `None` unless it is then 8 letters of the alphabet.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > 64 {
            return None;
        }
        let code: String = typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid =
            code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// As shown to people: `BCDF-GHJK`.
    pub fn display(&self) -> String {
        let (first, second) = self.0.split_at(USER_CODE_LENGTH / 2);
        format!("{first}-{second}")
    }

    /// The stored key: the SHA-256 of the canonical form.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user (RFC 8628 §3.5 `authorization_pending`).
    Pending,
    /// The user approved; the device has not collected its tokens yet.
    Approved,
    /// The user denied (§3.5 `access_denied`).
    Denied,
    /// The tokens were issued; the device code is spent.
    Redeemed,
}

impl DeviceStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    /// From the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "redeemed" => Some(Self::Redeemed),
            _ => None,
        }
    }
}

/// A device authorization request as stored (RFC 8628 §3.1, §3.2): both codes only as hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// SHA-256 of the device code.
    pub device_code_hash: TokenHash,
    /// SHA-256 of the canonical user code.
    pub user_code_hash: TokenHash,
    /// The client that asked.
    pub client_id: ClientId,
    /// The scope it asked for (narrowed to the user's entitlement on approval).
    pub scope: ScopeSet,
    /// The APIs it covers (RFC 8707).
    pub resources: Vec<Audience>,
    /// The network address the device asked from, shown to the user (RFC 8628 §5.4).
    pub device_address: String,
    /// Asked.
    pub created_at: i64,
    /// The codes stop working.
    pub expires_at: i64,
    /// The current polling interval in seconds (grows with each `slow_down`).
    pub interval: i64,
    /// Where it stands.
    pub status: DeviceStatus,
    /// The user who approved or denied it.
    pub user_id: Option<UserId>,
    /// When that user authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: Option<i64>,
    /// How (RFC 8176 `amr`).
    pub authentication: Option<Authentication>,
}

/// What one poll of the token endpoint found, after counting the poll (RFC 8628 §3.4, §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePoll {
    /// The request as it stands after the poll.
    pub request: DeviceAuthorization,
    /// The poll came sooner than the interval while the request was pending: `slow_down` (and
    /// the interval has grown by [`SLOW_DOWN_STEP`]).
    pub too_fast: bool,
}

/// The user's answer on the device page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Approve for `user_id`, with this (entitled) scope.
    Approve {
        /// The user.
        user_id: UserId,
        /// When they authenticated.
        auth_time: i64,
        /// How.
        authentication: Authentication,
        /// The scope granted.
        scope: ScopeSet,
    },
    /// Deny, as `user_id`.
    Deny {
        /// The user.
        user_id: UserId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typed_in_any_case_with_or_without_the_dash() {
        // (case, typed, canonical or None)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("RFC 8628 §6.1 as shown", "BCDF-GHJK", Some("BCDFGHJK")),
            ("RFC 8628 §6.1 lower case", "bcdf-ghjk", Some("BCDFGHJK")),
            (
                "RFC 8628 §6.1 without the dash",
                "bcdfghjk",
                Some("BCDFGHJK"),
            ),
            ("spaces dropped", " BCDF GHJK ", Some("BCDFGHJK")),
            ("a vowel is not in the alphabet", "BCDF-GHJA", None),
            ("a digit is not in the alphabet", "BCDF-GHJ1", None),
            ("too short", "BCDF-GHJ", None),
            ("too long", "BCDF-GHJKL", None),
            ("empty", "", None),
            ("non-ASCII", "BCDF-GHJ\u{212A}", None),
        ];
        for (case, typed, expected) in cases {
            let parsed = UserCode::parse(typed);
            assert_eq!(parsed.as_ref().map(|c| c.0.as_str()), *expected, "{case}");
        }
        assert_eq!(
            UserCode::parse("bcdfghjk").unwrap().hash(),
            UserCode::parse("BCDF-GHJK").unwrap().hash()
        );
    }

    #[test]
    fn generated_user_codes_use_the_alphabet_and_display_with_a_dash() {
        for _ in 0..200 {
            let code = UserCode::generate();
            let shown = code.display();
            assert_eq!(shown.len(), 9, "{shown}");
            assert_eq!(&shown[4..5], "-");
            assert_eq!(UserCode::parse(&shown), Some(code));
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Redeemed,
        ] {
            assert_eq!(DeviceStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeviceStatus::parse("other"), None);
    }
}
