//! The demo's own certificates, for mutual TLS (RFC 8705): a CA; Latchkey's server certificate;
//! Service A's client certificate, which names A by a URI SAN (`tls_client_auth_san_uri`); and
//! Service D's server certificate. Made with rcgen and kept as PEM files in one directory, so that
//! Latchkey can be started with them before the demo runs, and the demo reuses them afterwards.
//!
//! The CA's private key is never written: once the directory exists nobody can sign another
//! certificate with its CA. Delete the directory to start afresh (and restart Latchkey).

use std::io::Write;
use std::path::Path;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::DemoError;

/// The CA certificate: Latchkey's `--mtls-ca`, and the root every component trusts.
pub const CA_FILE: &str = "ca.pem";
/// Latchkey's server certificate (`--tls-cert`) …
pub const LATCHKEY_CERT_FILE: &str = "latchkey.pem";
/// … and its key (`--tls-key`).
pub const LATCHKEY_KEY_FILE: &str = "latchkey.key";
/// Service A's client certificate …
pub const SERVICE_A_CERT_FILE: &str = "service-a.pem";
/// … and its key.
pub const SERVICE_A_KEY_FILE: &str = "service-a.key";
/// Service D's server certificate …
pub const SERVICE_D_CERT_FILE: &str = "service-d.pem";
/// … and its key.
pub const SERVICE_D_KEY_FILE: &str = "service-d.key";

/// The URI SAN naming Service A in its certificate: registered with Latchkey as A's
/// `tls_client_auth_san_uri` (RFC 8705 §2.1.2).
pub const SERVICE_A_URI: &str = "spiffe://demo.example/service-a";

/// A certificate (chain) and its private key.
pub struct Identity {
    /// The end-entity certificate first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The demo's certificates.
#[derive(Debug, Clone)]
pub struct DemoPki {
    /// The CA certificate.
    pub ca: CertificateDer<'static>,
    /// Latchkey's server certificate (127.0.0.1 and localhost).
    pub latchkey: Identity,
    /// Service A's client certificate (URI SAN [`SERVICE_A_URI`]).
    pub service_a: Identity,
    /// Service D's server certificate (127.0.0.1 and localhost).
    pub service_d: Identity,
}

/// A CA whose key is held in memory only: it signs the demo's certificates (and, in the tests,
/// another client's).
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    certificate: CertificateDer<'static>,
}

fn pki_error(what: &str) -> impl Fn(rcgen::Error) -> DemoError + '_ {
    move |err| DemoError::Pki(format!("{what}: {err}"))
}

impl Authority {
    /// A new CA, "Latchkey demo CA".
    pub fn new() -> Result<Self, DemoError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error("CA"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "Latchkey demo CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(pki_error("CA key"))?;
        let certificate = params
            .self_signed(&key)
            .map_err(pki_error("CA"))?
            .der()
            .clone();
        Ok(Self {
            issuer: Issuer::new(params, key),
            certificate,
        })
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    fn sign(&self, params: &CertificateParams) -> Result<Identity, DemoError> {
        let key = KeyPair::generate().map_err(pki_error("key"))?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(pki_error("certificate"))?;
        Ok(Identity {
            chain: vec![certificate.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        })
    }

    /// A TLS server certificate for 127.0.0.1 and localhost.
    pub fn server_certificate(&self, common_name: &str) -> Result<Identity, DemoError> {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).map_err(pki_error("server"))?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params)
    }

    /// A TLS client certificate whose only SAN is the URI `uri` (how RFC 8705 §2.1.2
    /// `tls_client_auth_san_uri` names a client, as SPIFFE IDs name workloads).
    pub fn client_certificate(&self, common_name: &str, uri: &str) -> Result<Identity, DemoError> {
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(pki_error("client"))?;
        let uri = uri.to_owned().try_into().map_err(pki_error("client URI"))?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params)
    }
}

impl DemoPki {
    /// A new CA and the demo's certificates; the CA is returned too, to sign more.
    pub fn generate() -> Result<(Self, Authority), DemoError> {
        let authority = Authority::new()?;
        let pki = Self {
            ca: authority.certificate().clone(),
            latchkey: authority.server_certificate("latchkey")?,
            service_a: authority.client_certificate("service-a", SERVICE_A_URI)?,
            service_d: authority.server_certificate("service-d")?,
        };
        Ok((pki, authority))
    }

    /// The certificates in `dir`; when it has none, new ones, written there (the directory is
    /// created if missing). `true` when they were created.
    pub fn load_or_create(dir: &Path) -> Result<(Self, bool), DemoError> {
        if dir.join(CA_FILE).exists() {
            return Ok((Self::load(dir)?, false));
        }
        let (pki, _authority) = Self::generate()?;
        pki.write(dir)?;
        Ok((pki, true))
    }

    /// Read the PEM files of [`Self::write`].
    pub fn load(dir: &Path) -> Result<Self, DemoError> {
        let certificate = |name: &str| -> Result<CertificateDer<'static>, DemoError> {
            CertificateDer::from_pem_file(dir.join(name))
                .map_err(|err| DemoError::Pki(format!("{}: {err}", dir.join(name).display())))
        };
        let identity = |cert: &str, key: &str| -> Result<Identity, DemoError> {
            let key = PrivateKeyDer::from_pem_file(dir.join(key))
                .map_err(|err| DemoError::Pki(format!("{}: {err}", dir.join(key).display())))?;
            Ok(Identity {
                chain: vec![certificate(cert)?],
                key,
            })
        };
        Ok(Self {
            ca: certificate(CA_FILE)?,
            latchkey: identity(LATCHKEY_CERT_FILE, LATCHKEY_KEY_FILE)?,
            service_a: identity(SERVICE_A_CERT_FILE, SERVICE_A_KEY_FILE)?,
            service_d: identity(SERVICE_D_CERT_FILE, SERVICE_D_KEY_FILE)?,
        })
    }

    /// Write every certificate and key into `dir` as PEM (keys readable by the owner only).
    pub fn write(&self, dir: &Path) -> Result<(), DemoError> {
        std::fs::create_dir_all(dir)
            .map_err(|err| DemoError::Pki(format!("{}: {err}", dir.display())))?;
        write_file(&dir.join(CA_FILE), &pem("CERTIFICATE", &self.ca), false)?;
        for (identity, cert, key) in [
            (&self.latchkey, LATCHKEY_CERT_FILE, LATCHKEY_KEY_FILE),
            (&self.service_a, SERVICE_A_CERT_FILE, SERVICE_A_KEY_FILE),
            (&self.service_d, SERVICE_D_CERT_FILE, SERVICE_D_KEY_FILE),
        ] {
            let chain: String = identity
                .chain
                .iter()
                .map(|c| pem("CERTIFICATE", c))
                .collect();
            write_file(&dir.join(cert), &chain, false)?;
            write_file(
                &dir.join(key),
                &pem("PRIVATE KEY", identity.key.secret_der()),
                true,
            )?;
        }
        Ok(())
    }
}

fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), DemoError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|err| DemoError::Pki(format!("{}: {err}", path.display())))
}

/// RFC 7468 textual encoding.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
