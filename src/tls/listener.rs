//! The server socket, plain or TLS (handshakes off the accept loop), and what each connection
//! tells its requests: the peer address and the client certificate of the handshake.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::reload::{CertificateReloader, ServerTls};

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const HANDSHAKE_BACKLOG: usize = 64;

/// The server's listening socket: plain HTTP, or HTTPS whose handshakes run in tasks of their own,
/// so one slow client cannot hold up the others' connections.
pub struct Listener {
    local_addr: SocketAddr,
    kind: Kind,
}

enum Kind {
    Plain(TcpListener),
    Tls {
        handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
        reloader: CertificateReloader,
        _tasks: AbortOnDrop,
    },
}

impl Listener {
    /// Plain HTTP on `listener`.
    pub fn plain(listener: TcpListener) -> io::Result<Self> {
        Ok(Self {
            local_addr: listener.local_addr()?,
            kind: Kind::Plain(listener),
        })
    }

    /// HTTPS on `listener` with `tls`; its certificate files are checked every `reload_interval`
    /// (and on SIGHUP) for as long as the listener lives.
    pub fn tls(
        listener: TcpListener,
        tls: ServerTls,
        reload_interval: Duration,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, handshaken) = mpsc::channel(HANDSHAKE_BACKLOG);
        let acceptor = TlsAcceptor::from(tls.config);
        let accepting = tokio::spawn(accept_loop(listener, acceptor, sender));
        let reloading = tls.reloader.clone().spawn(reload_interval);
        Ok(Self {
            local_addr,
            kind: Kind::Tls {
                handshaken,
                reloader: tls.reloader,
                _tasks: AbortOnDrop(vec![accepting, reloading]),
            },
        })
    }

    /// The certificate reloader of an HTTPS listener.
    pub fn reloader(&self) -> Option<&CertificateReloader> {
        match &self.kind {
            Kind::Plain(_) => None,
            Kind::Tls { reloader, .. } => Some(reloader),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshaken: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // The server stopped taking connections (shutdown): release the port.
            () = handshaken.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // As axum's own loop: errors of one connection are passed over; others (out of
                // file descriptors) are given a moment to clear.
                if !is_connection_error(&err) {
                    tracing::error!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let handshaken = handshaken.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = handshaken.send((tls, peer)).await;
                }
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                }
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match &mut self.kind {
            Kind::Plain(listener) => {
                let (stream, peer) = axum::serve::Listener::accept(listener).await;
                (Stream::Plain(stream), peer)
            }
            Kind::Tls { handshaken, .. } => match handshaken.recv().await {
                Some((stream, peer)) => (Stream::Tls(Box::new(stream)), peer),
                // The accept loop ended (it only does so once this listener is dropped).
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// One accepted connection.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP, handshake done.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The certificate chain the client presented in the handshake, if any.
    fn client_certificate(&self) -> Option<Arc<[CertificateDer<'static>]>> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(tls) => tls
                .get_ref()
                .1
                .peer_certificates()
                .filter(|chain| !chain.is_empty())
                .map(Arc::from),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a connection tells its requests: who is at the other end, and the certificate chain it
/// presented in the TLS handshake. Requests see it as `ConnectInfo<SocketAddr>` and, when there is
/// one, a `ClientCertificate` (see `tls::serve`).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The TCP peer.
    pub addr: SocketAddr,
    /// The chain presented in the TLS handshake.
    pub tls_certificate: Option<Arc<[CertificateDer<'static>]>>,
}

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        Self {
            addr: *stream.remote_addr(),
            tls_certificate: stream.io().client_certificate(),
        }
    }
}
