//! `serve`: axum's server (graceful shutdown included) over a plain or TLS [`Listener`], with each
//! request given its peer address and client certificate.

use std::io;
use std::sync::Arc;

use axum::Router;

use super::listener::{Listener, Peer};
use crate::config::ProxySettings;

/// Serve `router` on `listener` until `shutdown` completes, then let in-flight requests finish.
/// Every request carries `ConnectInfo<SocketAddr>` (its TCP peer) and, when its connection
/// presented a client certificate or a trusted proxy passed one in `proxy`'s header, a
/// [`super::ClientCertificate`] extension (RFC 8705 §2).
pub async fn serve<F>(
    listener: Listener,
    router: Router,
    proxy: Option<ProxySettings>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let router = router.layer(super::peer::AttachPeerLayer(Arc::new(proxy)));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<Peer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
