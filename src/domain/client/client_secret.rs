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

/// The fewest bytes a secret may have to key HS256 (RFC 7518 §3.2: a key of at least 256 bits).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// A `client_secret_jwt` client's secret sealed for storage (AES-256-GCM under the key-encryption
/// key, its client id as associated data: `nonce || ciphertext || tag`). Only the key ring opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    /// Wrap sealed bytes (from the key ring, or read back from the store).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The sealed bytes, to store or to open.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret([redacted])")
    }
}
