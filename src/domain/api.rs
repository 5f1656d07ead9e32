//! APIs (resource servers): what an access token is for. Each has an audience URI, the `aud` of its
//! tokens (RFC 8707 §2, RFC 9068 §3), and may set its own token lifetime and signing algorithm.

use std::fmt;

use super::alg::SigningAlg;

/// An API's audience: an absolute URI without a fragment (RFC 8707 §2 `resource`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Audience(String);

/// A rule an API registration broke, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub String);

impl Audience {
    /// RFC 8707 §2: an absolute URI, no fragment; at most 2000 characters, no control characters.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| ApiError(format!("audience '{}' {why}", raw.escape_default()));
        if raw.is_empty() || raw.len() > 2000 {
            return Err(ApiError("an audience is 1-2000 characters".into()));
        }
        if raw.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad("must not contain spaces or control characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URI (RFC 8707 §2)"))?;
        if url.fragment().is_some() || raw.contains('#') {
            return Err(bad("must not contain a fragment (RFC 8707 §2)"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wrap an audience read back from the store.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The audience exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an API's access tokens are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// A signed JWT (RFC 9068) that the API can verify itself.
    #[default]
    Jwt,
    /// A reference token (`lk_at_` + 256 random bits), valid only through introspection (RFC 7662),
    /// so a revocation takes effect at once.
    Opaque,
}

impl TokenFormat {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

impl std::str::FromStr for TokenFormat {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        match s {
            "jwt" => Ok(Self::Jwt),
            "opaque" => Ok(Self::Opaque),
            other => Err(ApiError(format!(
                "unknown token format '{}' (expected jwt or opaque)",
                other.escape_default()
            ))),
        }
    }
}

/// A registered API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// The audience of its tokens.
    pub audience: Audience,
    /// Display name.
    pub name: String,
    /// Its access tokens' lifetime in seconds; `None`: the server's `--access-token-ttl`.
    pub access_token_ttl: Option<i64>,
    /// How its access tokens are signed; `None`: the server's `--access-token-alg`.
    pub access_token_alg: Option<SigningAlg>,
    /// JWTs or reference tokens.
    pub token_format: TokenFormat,
    /// Role-based scopes: a caller receives this API's scopes only as its roles grant them.
    pub rbac: bool,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// Parse a list of audiences (`--resource` values), each once.
pub fn parse_audiences(raw: &[String]) -> Result<Vec<Audience>, ApiError> {
    let mut audiences: Vec<Audience> = Vec::with_capacity(raw.len());
    for value in raw {
        let audience = Audience::parse(value)?;
        if !audiences.contains(&audience) {
            audiences.push(audience);
        }
    }
    Ok(audiences)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_are_absolute_uris_without_fragments() {
        assert!(Audience::parse("https://orders.example.com").is_ok());
        assert!(Audience::parse("urn:example:orders").is_ok());
        for bad in [
            "",
            "orders",
            "https://a.example.com/#x",
            "https://a.example.com/\u{0}",
            "a b",
        ] {
            assert!(Audience::parse(bad).is_err(), "{bad:?}");
        }
    }
}
