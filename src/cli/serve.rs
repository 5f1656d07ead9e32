//! `latchkey serve`: build the application and serve HTTP until stopped.

use std::sync::Arc;

use super::CliError;
use crate::app;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::state::{AppState, StartError};

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
    let state = AppState::build(settings, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    tracing::info!(
        issuer = state.settings.issuer.as_str(),
        address = %bind,
        "latchkey is listening"
    );
    app::serve(listener, state)
        .await
        .map_err(|source| StartError::Bind { addr: bind, source }.into())
}
