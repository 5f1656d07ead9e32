//! Reading PEM certificate and key files (RFC 7468), with errors that name the file.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// The certificates of a PEM file, in file order; at least one.
pub(crate) fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path, what)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| content(path, what, format!("not valid PEM ({err})")))?;
    if certificates.is_empty() {
        return Err(content(
            path,
            what,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certificates)
}

/// The private key of a PEM file: PKCS#8 (`PRIVATE KEY`), RSA PKCS#1 (`RSA PRIVATE KEY`) or SEC1
/// (`EC PRIVATE KEY`); the first one found.
pub(crate) fn read_private_key(
    path: &Path,
    what: &'static str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path, what)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| {
        content(
            path,
            what,
            format!("holds no usable PEM private key: PKCS#8, RSA or EC ({err})"),
        )
    })
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn content(path: &Path, what: &'static str, message: impl Into<String>) -> TlsError {
    TlsError::Content {
        what,
        path: path.to_owned(),
        message: message.into(),
    }
}
