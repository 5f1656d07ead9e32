//! Client secrets: generated once, kept only as a hash.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::secret::{TokenHash, random_token};

/// The prefix of every client secret, so secret scanners can recognise one.
pub const CLIENT_SECRET_PREFIX: &str = "lk_cs_";

/// A newly generated client secret: shown once, then only its hash is kept.
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// 256 random bits behind the `lk_cs_` prefix.
    pub fn generate() -> Self {
        Self(SecretString::from(random_token(CLIENT_SECRET_PREFIX)))
    }

    /// The value, to print once.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What the store keeps: a SHA-256 digest (a 256-bit random secret needs no slow hash).
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.expose_secret())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}
