//! Random token values, their SHA-256 digests, and constant-time comparison (all through aws-lc-rs).

use aws_lc_rs::{constant_time, digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A SHA-256 digest: what the store keeps instead of a code, refresh token or client secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hash a presented value.
    pub fn of(value: &str) -> Self {
        let digest = digest::digest(&digest::SHA256, value.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// Rebuild from stored bytes; `None` if the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// Compare in constant time, so timing does not reveal how much of a guess matched.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time::verify_slices_are_equal(&Self::of(presented).0, &self.0).is_ok()
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// `bytes` of OS randomness, base64url-encoded without padding.
pub fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // AWS-LC's RAND_bytes aborts the process rather than return failure, so this is always Ok.
    let _ = rand::fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 256-bit random token behind a readable prefix (e.g. `lk_rt_`), so scanners can tell kinds apart.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", random_string(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_and_long() {
        let token = random_token("lk_rt_");
        assert!(token.starts_with("lk_rt_"));
        assert_eq!(token.len(), 6 + 43);
        assert_ne!(token, random_token("lk_rt_"));
    }

    #[test]
    fn hash_matches_only_its_value() {
        let hash = TokenHash::of("secret-value");
        assert!(hash.matches("secret-value"));
        assert!(!hash.matches("secret-valuf"));
        assert_eq!(format!("{hash:?}"), "TokenHash([redacted])");
    }
}
