//! Mutual TLS (RFC 8705): the TLS settings of every component's HTTP client (the demo CA trusted,
//! and, for Service A, its client certificate presented), and the HTTPS listener of Service D,
//! which requires a client certificate of the demo CA and tells each request the certificate of
//! its connection, so that D can check a token's `cnf.x5t#S256` against it (RFC 8705 §3).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::pki::Identity;
use super::{DemoError, Running};

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// aws-lc-rs, as everywhere in Latchkey (never ring).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_error(what: &'static str) -> impl Fn(rustls::Error) -> DemoError {
    move |err| DemoError::Pki(format!("{what}: {err}"))
}

/// A client's TLS settings: Mozilla's roots and `extra_roots` (the demo CA) trusted, and
/// `identity` presented when the server asks for a certificate.
pub fn client_config(
    extra_roots: &[CertificateDer<'static>],
    identity: Option<&Identity>,
) -> Result<rustls::ClientConfig, DemoError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for root in extra_roots {
        roots
            .add(root.clone())
            .map_err(tls_error("a trusted root"))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error("client TLS"))?
        .with_root_certificates(roots);
    Ok(match identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(tls_error("client certificate"))?,
        None => builder.with_no_client_auth(),
    })
}

/// RFC 8705 §3.1: the `x5t#S256` of a certificate, base64url SHA-256 of its DER.
pub fn thumbprint(certificate: &CertificateDer<'_>) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, certificate.as_ref()))
}

/// Serve `router` over HTTPS on `listener` with the certificate `identity`, requiring every client
/// to present a certificate that chains to `ca` (and carries the client-auth EKU): a connection
/// without one fails in the handshake, before any request. Each request can read the certificate
/// of its connection as `ConnectInfo<PeerCertificate>`.
pub fn serve_mtls(
    listener: TcpListener,
    identity: &Identity,
    ca: &CertificateDer<'static>,
    router: Router,
) -> Result<Running, DemoError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(tls_error("the CA"))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|err| DemoError::Pki(format!("client verifier: {err}")))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error("server TLS"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(tls_error("server certificate"))?;
    let local_addr = listener.local_addr()?;
    let url = format!("https://{local_addr}");
    let listener = MtlsListener::new(listener, local_addr, TlsAcceptor::from(Arc::new(config)));
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<PeerCertificate>(),
        )
        .await
    });
    Ok(Running { url, task })
}

/// The end-entity certificate the client presented in the TLS handshake of a request's connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Option<CertificateDer<'static>>);

impl PeerCertificate {
    /// Its RFC 8705 §3.1 thumbprint.
    pub fn thumbprint(&self) -> Option<String> {
        self.0.as_ref().map(thumbprint)
    }
}

impl Connected<IncomingStream<'_, MtlsListener>> for PeerCertificate {
    fn connect_info(stream: IncomingStream<'_, MtlsListener>) -> Self {
        let (_, connection) = stream.io().get_ref();
        Self(
            connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|c| c.clone().into_owned()),
        )
    }
}

/// A TLS listener whose handshakes run in tasks of their own, so that a slow or failing client does
/// not hold up the others; only finished handshakes reach the server.
pub struct MtlsListener {
    local_addr: SocketAddr,
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl MtlsListener {
    fn new(listener: TcpListener, local_addr: SocketAddr, acceptor: TlsAcceptor) -> Self {
        let (sender, handshaken) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        // No certificate, or one of another CA: the client sees the TLS alert.
                        Ok(Err(err)) => {
                            tracing::info!(%peer, error = %err, "TLS handshake refused")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Self {
            local_addr,
            handshaken,
            accepting,
        }
    }
}

impl Drop for MtlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for MtlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
