//! Dynamic client registration (RFC 7591, RFC 7592): the server's policy, initial access tokens and
//! registration access tokens.

use std::fmt;
use std::str::FromStr;

/// The prefix of an initial access token (RFC 7591 §3), so scanners and people can tell it apart.
pub const INITIAL_ACCESS_TOKEN_PREFIX: &str = "lk_iat_";
/// The prefix of a registration access token (RFC 7592 §3).
pub const REGISTRATION_ACCESS_TOKEN_PREFIX: &str = "lk_rat_";

/// Who may register clients at the registration endpoint (RFC 7591 §3, `--registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationPolicy {
    /// No registration endpoint: clients are registered by operators only.
    Off,
    /// An initial access token (RFC 7591 §3) is required: `latchkey registration-token create`.
    #[default]
    Token,
    /// Anyone may register (RFC 7591 §3 "open registration"), rate-limited per network.
    Open,
}

impl RegistrationPolicy {
    /// Its name, as the flag takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Token => "token",
            Self::Open => "open",
        }
    }

    /// Whether the registration endpoint is served (and advertised).
    pub fn is_enabled(self) -> bool {
        self != Self::Off
    }
}

impl FromStr for RegistrationPolicy {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw {
            "off" => Ok(Self::Off),
            "token" => Ok(Self::Token),
            "open" => Ok(Self::Open),
            other => Err(format!("'{other}' is not one of off, token, open")),
        }
    }
}

impl fmt::Display for RegistrationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An initial access token (RFC 7591 §3) as stored: never its value, only its hash and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationToken {
    /// Its public identifier, for `registration-token list` and `revoke`.
    pub token_id: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it stops working; `None`: never.
    pub expires_at: Option<i64>,
    /// How many registrations it allows; `None`: any number.
    pub max_uses: Option<u32>,
    /// How many registrations it has made.
    pub uses: u32,
}

impl RegistrationToken {
    /// Whether it may register one more client at `now`.
    pub fn is_usable(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| now < at) && self.max_uses.is_none_or(|max| self.uses < max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_usable_until_it_expires_or_is_used_up() {
        let token = RegistrationToken {
            token_id: "t".into(),
            created_at: 0,
            expires_at: Some(100),
            max_uses: Some(2),
            uses: 1,
        };
        let cases = [
            ("before expiry, one use left", token.clone(), 99, true),
            ("at expiry", token.clone(), 100, false),
            (
                "used up",
                RegistrationToken {
                    uses: 2,
                    ..token.clone()
                },
                0,
                false,
            ),
            (
                "no limits",
                RegistrationToken {
                    expires_at: None,
                    max_uses: None,
                    uses: 1_000,
                    ..token
                },
                i64::MAX,
                true,
            ),
        ];
        for (name, token, now, usable) in cases {
            assert_eq!(token.is_usable(now), usable, "{name}");
        }
    }

    #[test]
    fn policies_parse_from_their_names() {
        for policy in [
            RegistrationPolicy::Off,
            RegistrationPolicy::Token,
            RegistrationPolicy::Open,
        ] {
            assert_eq!(policy.as_str().parse::<RegistrationPolicy>(), Ok(policy));
        }
        assert!("closed".parse::<RegistrationPolicy>().is_err());
    }
}
