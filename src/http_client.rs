//! The one way Latchkey makes outgoing HTTPS requests (the CLI's `--server`, `jwks_uri` fetches):
//! reqwest on rustls with the aws-lc-rs provider and the Mozilla roots (webpki-roots), following
//! no redirects.

use std::sync::Arc;

/// A TLS configuration trusting `roots`, through aws-lc-rs.
pub fn tls_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The Mozilla roots.
pub fn default_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A client builder with that TLS configuration and no redirects; the caller sets its timeouts.
pub fn builder() -> Result<reqwest::ClientBuilder, rustls::Error> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(default_roots())?)
        .redirect(reqwest::redirect::Policy::none()))
}
