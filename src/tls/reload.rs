//! The server's certificate and key, read again when their files change or on SIGHUP: new
//! handshakes use the new pair, open connections keep theirs, a broken pair is refused.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::TlsError;
use super::files::{read_certificates, read_private_key};
use super::verifier::AskForAnyCertificate;
use crate::config::TlsSettings;

const CERTIFICATE: &str = "the TLS certificate (--tls-cert)";
const KEY: &str = "the TLS private key (--tls-key)";

/// The listener's rustls configuration, and the handle that reloads its certificate.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// TLS 1.3 and 1.2 on aws-lc-rs; the certificate comes from the reloader.
    pub config: Arc<ServerConfig>,
    /// Reads the certificate and key again.
    pub reloader: CertificateReloader,
}

impl ServerTls {
    /// Read the certificate chain and key and build the configuration. With `ask_for_client_certificate`
    /// (`--mtls-ca`) the server requests, but does not require, a client certificate (RFC 8705 §2).
    pub fn load(
        settings: &TlsSettings,
        ask_for_client_certificate: bool,
    ) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let reloader = CertificateReloader::load(settings, provider.clone())?;
        let versions: &[&rustls::SupportedProtocolVersion] =
            &[&rustls::version::TLS13, &rustls::version::TLS12];
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|err| content(settings, CERTIFICATE, err.to_string()))?;
        let builder = if ask_for_client_certificate {
            builder.with_client_cert_verifier(Arc::new(AskForAnyCertificate::new(
                provider.signature_verification_algorithms,
            )))
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_cert_resolver(Arc::new(reloader.clone()));
        // RFC 7301: only HTTP/1.1 is served (HTTP/2 would need hyper's h2 stack in the build).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            reloader,
        })
    }
}

/// Holds the certificate new handshakes present, and reads it again from its files.
#[derive(Debug, Clone)]
pub struct CertificateReloader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' identity when last read (or tried): a change is what triggers a reload.
    seen: Mutex<Option<[FileStamp; 2]>>,
}

/// What tells a file changed: modification time, length, and (on Unix) the inode, so that an
/// atomic replace (a rename, or Kubernetes's symlink swap) is seen even within one mtime tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl CertificateReloader {
    fn load(settings: &TlsSettings, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let seen = stamps(&settings.cert, &settings.key);
        let pair = read_pair(&settings.cert, &settings.key, &provider)?;
        Ok(Self {
            inner: Arc::new(Inner {
                cert: settings.cert.clone(),
                key: settings.key.clone(),
                provider,
                current: RwLock::new(Arc::new(pair)),
                seen: Mutex::new(seen),
            }),
        })
    }

    /// Read the certificate and key again and, if they are a valid pair, make new handshakes use
    /// them; otherwise keep the current pair and return why. Open connections are not touched.
    pub fn reload(&self) -> Result<(), TlsError> {
        let inner = &self.inner;
        *inner.seen.lock().unwrap_or_else(PoisonError::into_inner) =
            stamps(&inner.cert, &inner.key);
        let pair = read_pair(&inner.cert, &inner.key, &inner.provider)?;
        *inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        Ok(())
    }

    /// Reload if either file changed since it was last read: `Ok(true)` if a new pair is in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamps(&self.inner.cert, &self.inner.key);
        let changed = *self
            .inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            != now;
        if !changed {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// The certificate chain new handshakes present, leaf first.
    pub fn certificate_chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        self.current().cert.clone()
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Check the files every `interval`, and reload at once on SIGHUP; failures are logged and the
    /// current pair kept. The task runs until aborted.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            let mut hangups = hangup_signals();
            loop {
                let on_signal = tokio::select! {
                    _ = ticks.tick() => false,
                    () = next_hangup(&mut hangups) => true,
                };
                let outcome = if on_signal {
                    self.reload().map(|()| true)
                } else {
                    self.reload_if_changed()
                };
                match outcome {
                    Ok(true) => tracing::info!(
                        certificate = %self.inner.cert.display(),
                        "TLS certificate reloaded: new connections use it"
                    ),
                    Ok(false) => {}
                    Err(err) => tracing::error!(
                        error = %err,
                        "TLS certificate not reloaded: the previous certificate stays in use"
                    ),
                }
            }
        })
    }
}

impl ResolvesServerCert for CertificateReloader {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The chain and key, checked to belong together (the key's public half is the leaf's).
fn read_pair(
    cert: &std::path::Path,
    key: &std::path::Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_certificates(cert, CERTIFICATE)?;
    let private_key = read_private_key(key, KEY)?;
    CertifiedKey::from_der(chain, private_key, provider).map_err(|err| TlsError::Content {
        what: KEY,
        path: key.to_owned(),
        message: format!("does not fit the certificate {} ({err})", cert.display()),
    })
}

fn stamps(cert: &std::path::Path, key: &std::path::Path) -> Option<[FileStamp; 2]> {
    Some([stamp(cert)?, stamp(key)?])
}

fn stamp(path: &std::path::Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

fn content(settings: &TlsSettings, what: &'static str, message: String) -> TlsError {
    TlsError::Content {
        what,
        path: settings.cert.clone(),
        message,
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangup_signals() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangup_signals() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) {
    match hangups {
        Some(signal) => {
            if signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
#[cfg(not(unix))]
async fn next_hangup(_hangups: &mut Hangups) {
    std::future::pending::<()>().await
}
