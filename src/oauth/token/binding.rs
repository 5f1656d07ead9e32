//! What binds the tokens of a token request to their sender: a DPoP key (RFC 9449) and the
//! client certificate of the connection (RFC 8705), and the checks of a grant bound to either.

use crate::domain::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::dpop::Proof;

/// A token request's DPoP proof and client certificate, each if present.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// The request's checked DPoP proof.
    pub dpop: Option<Proof>,
    /// RFC 8705 §3.1 `x5t#S256` of the client certificate the request came with.
    pub certificate: Option<String>,
}

impl Binding {
    /// RFC 9449 §5.2 `dpop_bound_access_tokens` and RFC 8705 §3.4
    /// `tls_client_certificate_bound_access_tokens`: a client registered for bound tokens sends
    /// what they are bound to.
    pub fn check_client(&self, client: &Client) -> Result<(), OAuthError> {
        if client.require_dpop && self.dpop.is_none() {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client must send a DPoP proof (RFC 9449 §5.2)",
            ));
        }
        if client.tls_bound_tokens && self.certificate.is_none() {
            return Err(OAuthError::invalid_request(
                "this client's tokens are bound to its certificate: connect with it (RFC 8705 §3)",
            ));
        }
        Ok(())
    }

    /// The DPoP key the access token is bound to.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop.as_ref().map(|proof| proof.jkt.as_str())
    }

    /// RFC 8705 §3: the certificate the access token is bound to, for a client registered for it.
    pub fn certificate_for(&self, client: &Client) -> Option<&str> {
        self.certificate
            .as_deref()
            .filter(|_| client.tls_bound_tokens)
    }

    /// RFC 9449 §5: the DPoP key a public client's refresh tokens are bound to.
    pub fn refresh_dpop_jkt(&self, client: &Client) -> Option<String> {
        self.dpop_jkt()
            .filter(|_| !client.auth_method.is_confidential())
            .map(str::to_owned)
    }

    /// RFC 8705 §4: the certificate a public client's refresh tokens are bound to.
    pub fn refresh_certificate(&self, client: &Client) -> Option<String> {
        self.certificate_for(client)
            .filter(|_| !client.auth_method.is_confidential())
            .map(str::to_owned)
    }

    /// RFC 9449 §5, §10: a grant bound to a DPoP key (a code's `dpop_jkt`, or the key of a public
    /// client's refresh tokens) is used only with a proof of that key.
    pub fn check_dpop_key(&self, bound: Option<&str>) -> Result<(), OAuthError> {
        match (bound, &self.dpop) {
            (None, _) => Ok(()),
            (Some(jkt), Some(proof)) if proof.jkt == jkt => Ok(()),
            (Some(_), Some(_)) => Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof is not signed by the key this grant is bound to",
            )),
            (Some(_), None) => Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this grant is bound to a DPoP key: send a DPoP proof",
            )),
        }
    }

    /// RFC 8705 §4: a refresh token bound to a certificate is refreshed only over a connection
    /// with that certificate.
    pub fn check_certificate(&self, bound: Option<&str>) -> Result<(), OAuthError> {
        match bound {
            Some(thumbprint) if self.certificate.as_deref() != Some(thumbprint) => {
                Err(OAuthError::invalid_grant(
                    "this grant is bound to a client certificate: connect with it (RFC 8705 §4)",
                ))
            }
            _ => Ok(()),
        }
    }
}
