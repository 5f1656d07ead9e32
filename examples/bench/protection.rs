//! What the sender-constraining phases need: a throwaway PKI (made with rcgen, as an operator's CA
//! would issue them) for the HTTPS listener and a client certificate, HTTPS clients trusting it, and
//! DPoP proofs (RFC 9449 §4.2) signed by a client key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use latchkey::clock::{Clock, SystemClock};
use latchkey::domain::alg::SigningAlg;
use latchkey::keys::KeyMaterial;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The SAN URI of the benchmark service's client certificate (its `tls_client_auth` subject).
pub const CLIENT_SAN_URI: &str = "spiffe://bench.example/service";

/// A CA, Latchkey's server certificate for 127.0.0.1 and a client certificate, the first two written
/// as PEM files for `--mtls-ca`, `--tls-cert` and `--tls-key`.
pub struct Pki {
    /// `ca.pem`.
    pub ca_file: PathBuf,
    /// `server.pem`.
    pub cert_file: PathBuf,
    /// `server.key`.
    pub key_file: PathBuf,
    ca: CertificateDer<'static>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivatePkcs8KeyDer<'static>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl Pki {
    /// Make the CA and both certificates, and write the server's files into `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Latchkey bench CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate()?;
        let ca = ca_params.self_signed(&ca_key)?.der().clone();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
        server
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client
            .subject_alt_names
            .push(SanType::URI(CLIENT_SAN_URI.try_into()?));
        client
            .distinguished_name
            .push(DnType::CommonName, "bench-service");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate()?;
        let client_cert = client.signed_by(&client_key, &issuer)?;

        let pki = Self {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server.key"),
            ca,
            client_chain: vec![client_cert.der().clone()],
            client_key: PrivatePkcs8KeyDer::from(client_key.serialize_der()),
        };
        std::fs::write(&pki.ca_file, pem("CERTIFICATE", &pki.ca))?;
        std::fs::write(&pki.cert_file, pem("CERTIFICATE", server_cert.der()))?;
        std::fs::write(
            &pki.key_file,
            pem("PRIVATE KEY", &server_key.serialize_der()),
        )?;
        Ok(pki)
    }

    /// The server's environment: HTTPS with this certificate, asking clients for theirs.
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        let path = |p: &PathBuf| p.display().to_string();
        vec![
            ("LATCHKEY_TLS_CERT", path(&self.cert_file)),
            ("LATCHKEY_TLS_KEY", path(&self.key_file)),
            ("LATCHKEY_MTLS_CA", path(&self.ca_file)),
        ]
    }

    /// An HTTPS client trusting only this CA, presenting the client certificate when `with_certificate`.
    pub fn client(&self, with_certificate: bool) -> Result<reqwest::Client> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone())?;
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
        let config = if with_certificate {
            builder.with_client_auth_cert(
                self.client_chain.clone(),
                PrivateKeyDer::Pkcs8(self.client_key.clone_key()),
            )?
        } else {
            builder.with_no_client_auth()
        };
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            .build()?)
    }
}

/// A client's DPoP key: every proof is a fresh JWT signed with it (ES256, Latchkey's own aws-lc-rs
/// signer; the load generator pays for that signature as a real client would).
pub struct DpopKey(KeyMaterial);

impl DpopKey {
    /// A new ES256 key.
    pub fn generate() -> Result<Self> {
        let (key, _) = KeyMaterial::generate(SigningAlg::ES256)
            .map_err(|e| anyhow::anyhow!("DPoP key: {}", e.0))?;
        Ok(Self(key))
    }

    /// A proof for `POST url` now, with a fresh `jti` (RFC 9449 §4.2).
    pub fn proof(&self, url: &str) -> Result<String> {
        let header = serde_json::json!({
            "typ": "dpop+jwt",
            "alg": self.0.alg.as_str(),
            "jwk": self.0.public_jwk,
        });
        let iat = SystemClock.now();
        let claims = serde_json::json!({
            "jti": latchkey::domain::secret::random_string(12),
            "htm": "POST",
            "htu": url,
            "iat": iat,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .0
            .sign(input.as_bytes())
            .map_err(|e| anyhow::anyhow!("DPoP proof: {}", e.0))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The claims of a JWT access token, to check that a phase measures what it says (a bound token).
pub fn claims(token: &str) -> Result<serde_json::Value> {
    let payload = token.split('.').nth(1).context("not a JWT")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}
