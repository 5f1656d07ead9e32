//! The transport: the HTTPS listener (`--tls-cert`) and its certificate reloads, and the client
//! certificate a request came with (RFC 8705 §2), from our own handshake or a trusted proxy's header.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

mod chain;
mod files;
mod listener;
mod peer;
mod proxy;
mod reload;
mod serve;
mod verifier;

pub use chain::{TrustRoots, chains_to};
pub use listener::{Listener, Peer, Stream};
pub use proxy::{MAX_PROXY_HEADER_BYTES, is_trusted_proxy, parse_forwarded_certificate};
pub use reload::{CertificateReloader, ServerTls};
pub use serve::serve;

/// How a request's client certificate reached Latchkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Presented in this server's own TLS handshake (RFC 8705 §2: the TLS layer proved the client
    /// holds the certificate's private key).
    Tls,
    /// Passed on by a TLS-terminating proxy in `--mtls-proxy-header`, from a `--trusted-proxy`
    /// address (the proxy checked possession of the key).
    Proxy,
}

/// The client certificate chain of a request (RFC 8705 §2), as a request extension: every request
/// on a connection that presented one carries it. Nothing about the chain has been validated yet
/// beyond possession of the key (the TLS layer accepts any chain so that self-signed certificates,
/// RFC 8705 §2.2, get through): [`chains_to`] checks it against `--mtls-ca`.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    /// The chain as presented, end-entity certificate first; never empty.
    pub chain: Arc<[CertificateDer<'static>]>,
    /// Where it came from.
    pub via: Via,
}

impl ClientCertificate {
    /// The end-entity (client's own) certificate.
    pub fn end_entity(&self) -> Option<&CertificateDer<'static>> {
        self.chain.first()
    }
}

/// Why the TLS listener, or the client-certificate roots, could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file was read but does not hold what it should.
    #[error("{what} {}: {message}", path.display())]
    Content {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
