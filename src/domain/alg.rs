//! JWS signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1): a plain name, used by settings, clients and keys.

use std::fmt;
use std::str::FromStr;

/// The algorithms of DPoP proofs Latchkey accepts (RFC 9449 §5.1 `dpop_signing_alg_values_supported`):
/// asymmetric only (§4.2), never `none` or a MAC.
pub const DPOP_ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// [`DPOP_ALGS`] as the `algs` of a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
pub const DPOP_ALGS_LIST: &str = "RS256 PS256 ES256 EdDSA";

/// A JWS signing algorithm Latchkey signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys; OIDC Core §15.1 requires it.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, in the order they are offered.
    pub const ALL: [SigningAlg; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            "EdDSA" => Ok(Self::EdDSA),
            other => Err(format!(
                "unknown signing algorithm '{other}' (expected RS256, ES256 or EdDSA)"
            )),
        }
    }
}
