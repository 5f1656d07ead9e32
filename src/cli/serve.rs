//! `latchkey serve`: build the application and serve HTTP or HTTPS until stopped.

use std::sync::Arc;

use super::CliError;
use crate::app;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::state::{AppState, StartError};
use crate::tls::{Listener, ServerTls};

/// Start the server on the configured address.
pub async fn run(settings: Settings) -> Result<(), CliError> {
    let bind = settings.bind;
    if !bind.ip().is_loopback() && settings.issuer.is_loopback() {
        // OIDC Discovery §3: clients reach the server at the issuer URL; a loopback issuer on a
        // public address means every remote client is sent to its own machine.
        tracing::warn!(
            issuer = settings.issuer.as_str(),
            address = %bind,
            "listening on a non-loopback address with a loopback issuer: remote clients will be \
             redirected to their own machine; set --issuer (LATCHKEY_ISSUER) to the public URL"
        );
    }
    if settings.transport.tls.is_some() && !settings.issuer.is_https() {
        tracing::warn!(
            issuer = settings.issuer.as_str(),
            "serving HTTPS with a plain-http issuer: discovery sends clients to http URLs this \
             server does not answer; set --issuer (LATCHKEY_ISSUER) to its https URL"
        );
    }
    // The certificate and key are read before anything else starts, so a bad file stops start-up
    // at once.
    let tls = match &settings.transport.tls {
        Some(files) => Some((
            ServerTls::load(files, settings.transport.mtls_ca.is_some())
                .map_err(StartError::from)?,
            files.reload_interval,
        )),
        None => None,
    };
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    let tcp = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    let listener = match tls {
        Some((tls, reload_interval)) => Listener::tls(tcp, tls, reload_interval),
        None => Listener::plain(tcp),
    }
    .map_err(|source| StartError::Bind { addr: bind, source })?;
    // `/metrics` on an address of its own, when asked.
    let metrics = match state.settings.metrics_bind {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            tracing::info!(address = %addr, "metrics are served here only");
            let router = app::metrics_router(state.clone());
            Some(tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, router).await {
                    tracing::error!(error = %err, "the metrics listener stopped");
                }
            }))
        }
        None => None,
    };
    tracing::info!(
        issuer = state.settings.issuer.as_str(),
        address = %bind,
        https = listener.reloader().is_some(),
        asks_for_client_certificates = listener.reloader().is_some() && state.client_ca.is_some(),
        "latchkey is listening"
    );
    let served = app::serve_on(listener, state).await;
    if let Some(task) = metrics {
        task.abort();
    }
    served.map_err(|source| StartError::Bind { addr: bind, source }.into())
}
