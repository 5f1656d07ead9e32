//! Passkeys (WebAuthn Level 3): a user's registered credentials and the ceremonies that register and
//! use them, as the store keeps them. Pure: the WebAuthn checks themselves are in `oauth::passkey`
//! (through webauthn_rp); here the credential's state is opaque bytes in that crate's encoding.

use super::user::UserId;

/// WebAuthn §5.4.3 user handles are at most 64 bytes; each user gets 64 random ones.
pub const USER_HANDLE_BYTES: usize = 64;
/// The longest name a user may give a passkey, in characters.
pub const NAME_MAX_CHARS: usize = 64;
/// How long a begun ceremony may be finished (WebAuthn §5.4.1 `timeout`, with a margin for the
/// page round trip): five minutes.
pub const CEREMONY_TTL: i64 = 5 * 60;

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// The credential id (WebAuthn §6.5.1), unique for this relying party.
    pub credential_id: Vec<u8>,
    /// Whose.
    pub user_id: UserId,
    /// The name the user gave it ("Laptop"), for the account page.
    pub name: String,
    /// The public key and the extensions registered with it (webauthn_rp `StaticState`).
    pub static_state: Vec<u8>,
    /// The signature counter and the backup and user-verification flags (webauthn_rp
    /// `DynamicState`), updated at each use.
    pub dynamic_state: Vec<u8>,
    /// The transports the browser said the authenticator uses (webauthn_rp `AuthTransports`).
    pub transports: u8,
    /// When it was registered.
    pub created_at: i64,
    /// When it last signed someone in.
    pub last_used_at: Option<i64>,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Registering a new passkey for a signed-in user (WebAuthn §7.1).
    Register,
    /// A passkey as the second factor after the password (WebAuthn §7.2, with the user's
    /// credentials in `allowCredentials`).
    SecondFactor,
    /// Signing in with a passkey alone: a discoverable credential, user verification required.
    SignIn,
}

impl Purpose {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SecondFactor => "second_factor",
            Self::SignIn => "sign_in",
        }
    }

    /// From a stored or submitted value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "register" => Some(Self::Register),
            "second_factor" => Some(Self::SecondFactor),
            "sign_in" => Some(Self::SignIn),
            _ => None,
        }
    }
}

/// A ceremony begun and not yet finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// What it is for.
    pub purpose: Purpose,
    /// The user it was begun for (none for a passwordless sign-in: the passkey tells who).
    pub user_id: Option<UserId>,
    /// The challenge and options sent (webauthn_rp's server state, encoded).
    pub state: Vec<u8>,
    /// When it can no longer be finished.
    pub expires_at: i64,
}

/// A passkey's name as the user typed it: trimmed, at most [`NAME_MAX_CHARS`] characters, no
/// control characters; empty becomes "Passkey".
pub fn passkey_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.chars().any(char::is_control) {
        return Err("A passkey's name cannot contain control characters.");
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err("A passkey's name is at most 64 characters.");
    }
    Ok(if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name("  Laptop ").unwrap(), "Laptop");
        assert_eq!(passkey_name("").unwrap(), "Passkey");
        assert!(passkey_name("a\u{0}b").is_err());
        assert!(passkey_name(&"x".repeat(65)).is_err());
        assert_eq!(passkey_name(&"é".repeat(64)).unwrap().chars().count(), 64);
    }

    #[test]
    fn purposes_round_trip() {
        for purpose in [Purpose::Register, Purpose::SecondFactor, Purpose::SignIn] {
            assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(Purpose::parse("other"), None);
    }
}
