//! The TLS-level client-certificate verifier: ask, never require, accept any chain, and still check
//! that the client signed the handshake with the certificate's key.

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

/// RFC 8705 §2: the server requests a client certificate (a CertificateRequest) but the handshake
/// goes on without one, so clients authenticating otherwise are served on the same port.
///
/// Any chain is accepted at this layer: RFC 8705 §2.2 (`self_signed_tls_client_auth`) needs
/// self-signed certificates to get through, and which CA a client's certificate must chain to
/// (§2.1) depends on the client, known only at the OAuth layer, which calls
/// [`super::chains_to`]. The CertificateVerify signature is verified (RFC 8446 §4.4.3,
/// RFC 5246 §7.4.8) with aws-lc-rs's algorithms, so a presented certificate always comes with
/// proof that the client holds its private key.
#[derive(Debug)]
pub(crate) struct AskForAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AskForAnyCertificate {
    pub(crate) fn new(algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self { algorithms }
    }
}

impl ClientCertVerifier for AskForAnyCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    // RFC 8446 §4.2.4 `certificate_authorities` is optional: naming the CAs would lead some clients
    // to withhold a self-signed certificate.
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
