//! HTTPS and client-certificate settings: the TLS listener (`--tls-cert`, `--tls-key`), the CA
//! roots of client certificates (`--mtls-ca`, RFC 8705 §2.1) and the header of a TLS-terminating
//! proxy (`--mtls-proxy-header`, trusted only from `--trusted-proxy`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderName;
use clap::Args;
use ipnet::IpNet;

use super::{ConfigError, parse_duration};

const TLS_CERT: &str = "--tls-cert (LATCHKEY_TLS_CERT)";
const TLS_KEY: &str = "--tls-key (LATCHKEY_TLS_KEY)";
const TLS_RELOAD_INTERVAL: &str = "--tls-reload-interval (LATCHKEY_TLS_RELOAD_INTERVAL)";
const MTLS_CA: &str = "--mtls-ca (LATCHKEY_MTLS_CA)";
const MTLS_PROXY_HEADER: &str = "--mtls-proxy-header (LATCHKEY_MTLS_PROXY_HEADER)";
const TRUSTED_PROXY: &str = "--trusted-proxy (LATCHKEY_TRUSTED_PROXY)";

/// The HTTPS and client-certificate flags, each also a `LATCHKEY_*` variable.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Re-read when the
    /// file changes and on SIGHUP.
    #[arg(long, env = "LATCHKEY_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM: PKCS#8, RSA (PKCS#1) or SEC1 EC.
    #[arg(long, env = "LATCHKEY_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,

    /// How often the files of --tls-cert and --tls-key are checked for changes.
    #[arg(long, env = "LATCHKEY_TLS_RELOAD_INTERVAL", default_value = "30s", value_parser = parse_duration, global = true)]
    pub tls_reload_interval: Duration,

    /// A PEM bundle of the CA certificates client certificates may chain to (RFC 8705 §2.1). With
    /// --tls-cert, the listener asks TLS clients for a certificate (and does not require one).
    #[arg(long, env = "LATCHKEY_MTLS_CA", global = true)]
    pub mtls_ca: Option<PathBuf>,

    /// The request header in which a TLS-terminating proxy passes the client certificate (NGINX's
    /// `$ssl_client_escaped_cert`, Envoy's `x-forwarded-client-cert`); honoured only from
    /// --trusted-proxy addresses.
    #[arg(long, env = "LATCHKEY_MTLS_PROXY_HEADER", global = true)]
    pub mtls_proxy_header: Option<String>,

    /// A network (CIDR, or one address) of proxies whose --mtls-proxy-header is believed; repeat
    /// the flag, or separate them with commas in the variable.
    #[arg(
        long = "trusted-proxy",
        env = "LATCHKEY_TRUSTED_PROXY",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,
}

/// The TLS listener's files and how often they are checked.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
    /// How often the two files are checked for changes.
    pub reload_interval: Duration,
}

/// A TLS-terminating proxy's client-certificate header, and who may send it.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// The header's name.
    pub header: HeaderName,
    /// The proxies' networks.
    pub trusted: Vec<IpNet>,
}

/// The validated HTTPS and client-certificate settings.
#[derive(Debug, Clone, Default)]
pub struct TransportSettings {
    /// Serve HTTPS (`None`: plain HTTP).
    pub tls: Option<TlsSettings>,
    /// The CA bundle client certificates may chain to; the TLS listener then asks for one.
    pub mtls_ca: Option<PathBuf>,
    /// The client certificate from a proxy's header.
    pub proxy: Option<ProxySettings>,
}

impl TransportSettings {
    /// Whether a client certificate can reach a request (RFC 8705): the TLS listener asks for one
    /// (`--tls-cert` with `--mtls-ca`), or a trusted proxy passes it on (`--mtls-proxy-header`).
    pub fn client_certificates(&self) -> bool {
        (self.tls.is_some() && self.mtls_ca.is_some()) || self.proxy.is_some()
    }
}

impl TlsArgs {
    /// Check the combination of flags; the files themselves are read when the server starts.
    pub fn validate(&self) -> Result<TransportSettings, ConfigError> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsSettings {
                cert: cert.clone(),
                key: key.clone(),
                reload_interval: self.tls_reload_interval,
            }),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    TLS_CERT,
                    format!("needs {TLS_KEY} too: give both or neither"),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    TLS_KEY,
                    format!("needs {TLS_CERT} too: give both or neither"),
                ));
            }
            (None, None) => None,
        };
        if self.tls_reload_interval.is_zero() {
            return Err(ConfigError::new(
                TLS_RELOAD_INTERVAL,
                "must be greater than zero",
            ));
        }
        let trusted = self
            .trusted_proxies
            .iter()
            .map(|raw| parse_network(raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| ConfigError::new(TRUSTED_PROXY, message))?;
        let proxy = match self.mtls_proxy_header.as_deref().map(str::trim) {
            Some(name) => {
                let header = HeaderName::try_from(name).map_err(|_| {
                    ConfigError::new(MTLS_PROXY_HEADER, format!("'{name}' is not a header name"))
                })?;
                if trusted.is_empty() {
                    return Err(ConfigError::new(
                        MTLS_PROXY_HEADER,
                        format!(
                            "needs {TRUSTED_PROXY}: the proxies whose header is believed \
                             (from anyone else it would let a client name any certificate)"
                        ),
                    ));
                }
                Some(ProxySettings { header, trusted })
            }
            None if !trusted.is_empty() => {
                return Err(ConfigError::new(
                    TRUSTED_PROXY,
                    format!("has no use without {MTLS_PROXY_HEADER}"),
                ));
            }
            None => None,
        };
        if self.mtls_ca.is_some() && tls.is_none() && proxy.is_none() {
            return Err(ConfigError::new(
                MTLS_CA,
                format!(
                    "needs {TLS_CERT} (Latchkey asks TLS clients for their certificate) or \
                     {MTLS_PROXY_HEADER} (a proxy passes it on)"
                ),
            ));
        }
        Ok(TransportSettings {
            tls,
            mtls_ca: self.mtls_ca.clone(),
            proxy,
        })
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or one address (`192.0.2.7`, a /32 or /128).
fn parse_network(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    if let Ok(network) = raw.parse::<IpNet>() {
        // `10.1.2.3/8` means the network `10.0.0.0/8`.
        return Ok(network.trunc());
    }
    raw.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!(
            "'{raw}' is not a network: give a CIDR such as 10.0.0.0/8 or fd00::/8, or one address"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> Result<TransportSettings, ConfigError> {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            tls: TlsArgs,
        }
        let mut argv = vec!["latchkey"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().tls.validate()
    }

    #[test]
    fn a_certificate_and_its_key_come_together() {
        assert!(args(&[]).unwrap().tls.is_none());
        let both = args(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        let tls = both.tls.unwrap();
        assert_eq!(tls.reload_interval, Duration::from_secs(30));
        let err = args(&["--tls-cert", "c.pem"]).unwrap_err().to_string();
        assert!(
            err.contains("LATCHKEY_TLS_CERT") && err.contains("--tls-key"),
            "{err}"
        );
        let err = args(&["--tls-key", "k.pem"]).unwrap_err().to_string();
        assert!(
            err.contains("LATCHKEY_TLS_KEY") && err.contains("--tls-cert"),
            "{err}"
        );
    }

    #[test]
    fn a_proxy_header_needs_trusted_proxies_and_they_need_the_header() {
        let err = args(&["--mtls-proxy-header", "x-ssl-client-cert"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--trusted-proxy"), "{err}");
        let err = args(&["--trusted-proxy", "10.0.0.0/8"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--mtls-proxy-header"), "{err}");
        let err = args(&[
            "--mtls-proxy-header",
            "bad header",
            "--trusted-proxy",
            "::1",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a header name"), "{err}");
        let ok = args(&[
            "--mtls-proxy-header",
            "X-SSL-Client-Cert",
            "--trusted-proxy",
            "10.1.2.3/8",
            "--trusted-proxy",
            "fd00::1",
        ])
        .unwrap();
        let proxy = ok.proxy.unwrap();
        assert_eq!(proxy.header.as_str(), "x-ssl-client-cert");
        assert_eq!(
            proxy.trusted,
            vec![
                "10.0.0.0/8".parse::<IpNet>().unwrap(),
                "fd00::1/128".parse().unwrap()
            ]
        );
    }

    #[test]
    fn networks_that_do_not_parse_are_named_in_the_error() {
        for bad in ["10.0.0.0/33", "example.com", "10.0.0/8", "", "::1/129"] {
            let err = args(&["--mtls-proxy-header", "x", "--trusted-proxy", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains("LATCHKEY_TRUSTED_PROXY"), "{bad:?}: {err}");
            assert!(err.contains("not a network"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_ca_bundle_needs_a_listener_or_a_proxy_to_ask() {
        let err = args(&["--mtls-ca", "ca.pem"]).unwrap_err().to_string();
        assert!(err.contains("LATCHKEY_MTLS_CA"), "{err}");
        assert!(
            args(&["--mtls-ca", "ca.pem", "--tls-cert", "c", "--tls-key", "k"])
                .unwrap()
                .mtls_ca
                .is_some()
        );
        assert!(
            args(&[
                "--mtls-ca",
                "ca.pem",
                "--mtls-proxy-header",
                "x",
                "--trusted-proxy",
                "::1"
            ])
            .is_ok()
        );
    }

    #[test]
    fn the_reload_interval_is_positive() {
        let err = args(&["--tls-reload-interval", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("LATCHKEY_TLS_RELOAD_INTERVAL"), "{err}");
    }
}
