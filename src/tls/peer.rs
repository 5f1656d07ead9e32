//! Hands each request its connection's peer address and client certificate (RFC 8705 §2): from our
//! own TLS handshake, or from a trusted proxy's header.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use super::listener::Peer;
use super::proxy::{is_trusted_proxy, parse_forwarded_certificate};
use super::{ClientCertificate, Via};
use crate::config::ProxySettings;

/// Insert `ConnectInfo<SocketAddr>` and, when there is one, the [`ClientCertificate`]; the proxy
/// header itself never reaches a handler.
pub(crate) async fn attach_client_certificate(
    State(proxy): State<Arc<Option<ProxySettings>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(peer)| peer.clone());
    if let Some(peer) = peer {
        let certificate = client_certificate(&peer, proxy.as_ref().as_ref(), request.headers());
        if let Some(proxy) = proxy.as_ref() {
            request.headers_mut().remove(&proxy.header);
        }
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo::<SocketAddr>(peer.addr));
        if let Some(certificate) = certificate {
            extensions.insert(certificate);
        }
    }
    next.run(request).await
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
