//! Hands each request its connection's peer address and client certificate (RFC 8705 §2): from our
//! own TLS handshake, or from a trusted proxy's header.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;

use super::listener::Peer;
use super::proxy::{is_trusted_proxy, parse_forwarded_certificate};
use super::{ClientCertificate, Via};
use crate::config::ProxySettings;

/// The layer that gives every request its peer address and, when there is one, its client
/// certificate (see [`AttachPeer`]).
#[derive(Clone)]
pub(crate) struct AttachPeerLayer(pub(crate) Arc<Option<ProxySettings>>);

impl<S> tower::Layer<S> for AttachPeerLayer {
    type Service = AttachPeer<S>;

    fn layer(&self, inner: S) -> AttachPeer<S> {
        AttachPeer {
            inner,
            proxy: Arc::clone(&self.0),
        }
    }
}

/// Inserts `ConnectInfo<SocketAddr>` and, when there is one, the [`ClientCertificate`]; the proxy
/// header itself never reaches a handler. Written out rather than with axum's `from_fn`, which
/// clones the route and boxes it and its future at every request: this does its work before
/// calling the route and hands back the route's own future. Every request of every endpoint
/// passes here; in side-by-side runs of the benchmark it made plain ES256 token requests about 3%
/// faster than the `from_fn` version, within the machine's noise.
#[derive(Clone)]
pub(crate) struct AttachPeer<S> {
    inner: S,
    proxy: Arc<Option<ProxySettings>>,
}

impl<S> tower::Service<Request> for AttachPeer<S>
where
    S: tower::Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        attach(self.proxy.as_ref().as_ref(), &mut request);
        self.inner.call(request)
    }
}

/// What [`AttachPeer`] does to one request.
fn attach(proxy: Option<&ProxySettings>, request: &mut Request) {
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(peer)| peer.clone());
    if let Some(peer) = peer {
        let certificate = client_certificate(&peer, proxy, request.headers());
        if let Some(proxy) = proxy {
            request.headers_mut().remove(&proxy.header);
        }
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo::<SocketAddr>(peer.addr));
        if let Some(certificate) = certificate {
            extensions.insert(certificate);
        }
    }
}

/// The request's client certificate. From a trusted proxy only its header counts: a certificate in
/// the TLS handshake would be the proxy's own, not its client's. From anyone else the header is
/// ignored (and logged, without its value: it is the client's claim, not ours to repeat).
fn client_certificate(
    peer: &Peer,
    proxy: Option<&ProxySettings>,
    headers: &HeaderMap,
) -> Option<ClientCertificate> {
    let from_tls = || {
        peer.tls_certificate.clone().map(|chain| ClientCertificate {
            chain,
            via: Via::Tls,
        })
    };
    let Some(proxy) = proxy else {
        return from_tls();
    };
    if !is_trusted_proxy(&proxy.trusted, peer.addr.ip()) {
        if headers.contains_key(&proxy.header) {
            tracing::warn!(
                peer = %peer.addr.ip(),
                header = %proxy.header,
                "client-certificate header from an address outside --trusted-proxy: ignored"
            );
        }
        return from_tls();
    }
    let mut values = headers.get_all(&proxy.header).iter();
    let value = values.next()?;
    if values.next().is_some() {
        tracing::warn!(
            peer = %peer.addr.ip(),
            header = %proxy.header,
            "client-certificate header sent more than once by a trusted proxy: no certificate"
        );
        return None;
    }
    match parse_forwarded_certificate(value.as_bytes()) {
        Ok(chain) => chain.map(|chain| ClientCertificate {
            chain: Arc::from(chain),
            via: Via::Proxy,
        }),
        Err(why) => {
            tracing::warn!(
                peer = %peer.addr.ip(),
                header = %proxy.header,
                why,
                "unreadable client-certificate header from a trusted proxy: no certificate"
            );
            None
        }
    }
}
