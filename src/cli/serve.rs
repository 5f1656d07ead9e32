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
