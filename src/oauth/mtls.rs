//! Mutual-TLS (RFC 8705): the certificate thumbprint a token is bound to (§3.1), and the check of
//! a certificate-bound token at a protected resource (§3).

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::OAuthError;

/// RFC 8705 §3.1 `x5t#S256`: the base64url SHA-256 of the certificate's DER encoding.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der))
}

/// RFC 8705 §3: a token bound to a certificate (`bound`) is accepted only from a connection that
/// presented that very certificate (`presented`, its thumbprint); RFC 6750 §3.1 `invalid_token`
/// otherwise.
pub fn check_certificate(bound: Option<&str>, presented: Option<&str>) -> Result<(), OAuthError> {
    let Some(bound) = bound else {
        return Ok(());
    };
    let same = presented.is_some_and(|presented| {
        constant_time::verify_slices_are_equal(bound.as_bytes(), presented.as_bytes()).is_ok()
    });
    if same {
        Ok(())
    } else {
        Err(OAuthError::invalid_token(
            "the access token is bound to a client certificate this request did not present (RFC 8705 §3)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_token_needs_its_own_certificate() {
        let mine = certificate_thumbprint(b"certificate one");
        let other = certificate_thumbprint(b"certificate two");
        assert_eq!(mine.len(), 43);
        assert!(check_certificate(None, None).is_ok());
        assert!(check_certificate(Some(&mine), Some(&mine)).is_ok());
        assert!(check_certificate(Some(&mine), Some(&other)).is_err());
        assert!(check_certificate(Some(&mine), None).is_err());
    }
}
