//! HTTPS (`--tls-cert`, `--tls-key`): the whole application over TLS, certificate reloads that spare
//! open connections, client certificates asked for with `--mtls-ca` (RFC 8705 §2), the proxy header
//! believed only from `--trusted-proxy`, and the start-up errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use clap::Parser;
use latchkey::cli::Cli;
use latchkey::config::TransportSettings;
use latchkey::tls::{ClientCertificate, Via};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp, failure_of, listen, run_cli};

crate::backend_tests!(
    the_whole_application_answers_over_https,
    plain_http_on_the_https_port_gets_no_http_answer,
    tls_1_2_and_tls_1_3_are_both_served,
    a_reloaded_certificate_is_used_by_new_connections_while_open_ones_keep_working,
    a_broken_new_pair_is_refused_and_the_old_certificate_kept,
    with_mtls_ca_the_server_asks_for_a_certificate_but_does_not_require_one,
    a_client_certificate_reaches_the_handler_as_a_request_extension,
    without_mtls_ca_no_client_certificate_is_asked_for,
    a_proxy_header_is_believed_from_a_trusted_proxy_only,
    a_trusted_proxy_header_outranks_the_proxy_s_own_tls_certificate,
);

/// A CA, and the certificates it signs, written as PEM files into a temporary directory.
pub(crate) struct Pki {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) ca: Issuer<'static, KeyPair>,
    pub(crate) ca_der: CertificateDer<'static>,
}

/// A certificate chain and its private key.
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Pki {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let ca_der = params.self_signed(&key).unwrap().der().clone();
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca: Issuer::new(params, key),
            ca_der,
        };
        std::fs::write(pki.path("ca.pem"), pem("CERTIFICATE", &pki.ca_der)).unwrap();
        pki
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn path_str(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub(crate) fn sign(&self, params: &CertificateParams) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost, written to `server.pem` / `server.key`
    /// (through a rename, as deployment tools replace certificates).
    pub(crate) fn write_server_certificate(&self, common_name: &str) -> Identity {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let identity = self.sign(&params);
        replace(
            &self.path("server.pem"),
            &pem("CERTIFICATE", &identity.chain[0]),
        );
        replace(
            &self.path("server.key"),
            &pem("PRIVATE KEY", identity.key.secret_der()),
        );
        identity
    }

    pub(crate) fn client_certificate(&self) -> Identity {
        let mut params = CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "service-a");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params)
    }

    /// The flags of an HTTPS server with this PKI's server certificate.
    pub(crate) fn server_flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.path_str("server.pem"),
            "--tls-key".into(),
            self.path_str("server.key"),
        ]
    }
}

pub(crate) fn self_signed_client_certificate() -> Identity {
    let mut params = CertificateParams::new(vec!["self-signed.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "self-signed");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Write `path` whole through a rename, so a reader never sees half a file.
fn replace(path: &Path, contents: &str) {
    let staged = path.with_extension("new");
    std::fs::write(&staged, contents).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

pub(crate) fn as_strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

/// A client trusting only `roots`, presenting `identity` when asked, on the given TLS versions.
pub(crate) fn client_config(
    roots: &[&CertificateDer<'static>],
    identity: Option<&Identity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add((*root).clone()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(store);
    match identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

pub(crate) fn https_client(
    roots: &[&CertificateDer<'static>],
    identity: Option<&Identity>,
) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(client_config(roots, identity, rustls::DEFAULT_VERSIONS))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn the_whole_application_answers_over_https(backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let flags = pki.server_flags();
    let app = TestApp::spawn_https(
        &backend,
        &as_strs(&flags),
        https_client(&[&pki.ca_der], None),
    )
    .await;
    assert!(app.address.starts_with("https://127.0.0.1:"));
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let discovery = app.get_discovery().await;
    assert_eq!(discovery["issuer"], app.address.as_str());
    assert_eq!(
        discovery["token_endpoint"],
        format!("{}/token", app.address)
    );
    // Through the router, the store and the signing keys: a client_credentials token over TLS.
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let response = app.client_credentials(&service, None).await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    // An https issuer: HSTS on every answer.
    assert_eq!(
        app.get("/healthz").await.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

async fn plain_http_on_the_https_port_gets_no_http_answer(backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let flags = pki.server_flags();
    let app = TestApp::spawn_https(
        &backend,
        &as_strs(&flags),
        https_client(&[&pki.ca_der], None),
    )
    .await;
    let port = app.address.rsplit(':').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // The handshake fails: at most a TLS alert comes back, then the connection closes.
    let _ = stream.read_to_end(&mut answer).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    // The server still serves HTTPS afterwards.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn tls_1_2_and_tls_1_3_are_both_served(backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let flags = pki.server_flags();
    let app = TestApp::spawn_https(
        &backend,
        &as_strs(&flags),
        https_client(&[&pki.ca_der], None),
    )
    .await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(client_config(&[&pki.ca_der], None, &[version]))
            .build()
            .unwrap();
        let response = client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{version:?}");
    }
}

async fn a_reloaded_certificate_is_used_by_new_connections_while_open_ones_keep_working(
    backend: Backend,
) {
    let first_ca = Pki::new("First CA");
    first_ca.write_server_certificate("first");
    let flags = first_ca.server_flags();
    // This client keeps its connection open between requests (HTTP/1.1 keep-alive) and trusts
    // only the first CA: it can go on only over the connection it already has.
    let old = https_client(&[&first_ca.ca_der], None);
    let app = TestApp::spawn_https(&backend, &as_strs(&flags), old.clone()).await;
    assert_eq!(app.get("/healthz").await.status(), 200);

    // The files are replaced by a pair from another CA (as a renewal might), and checked.
    let second_ca = Pki::new("Second CA");
    let second = second_ca.write_server_certificate("second");
    std::fs::copy(
        second_ca.path("server.pem"),
        first_ca.path("server.pem.new"),
    )
    .unwrap();
    std::fs::copy(
        second_ca.path("server.key"),
        first_ca.path("server.key.new"),
    )
    .unwrap();
    std::fs::rename(first_ca.path("server.pem.new"), first_ca.path("server.pem")).unwrap();
    std::fs::rename(first_ca.path("server.key.new"), first_ca.path("server.key")).unwrap();
    let reloader = app.tls.as_ref().unwrap();
    assert!(
        reloader.reload_if_changed().unwrap(),
        "a change of the files is seen"
    );
    assert!(!reloader.reload_if_changed().unwrap(), "and only once");
    assert_eq!(reloader.certificate_chain(), second.chain);

    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the open connection keeps working"
    );
    let fresh = https_client(&[&second_ca.ca_der], None);
    let response = fresh
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a new connection gets the new certificate"
    );
    let stale = https_client(&[&first_ca.ca_der], None);
    let refused = stale.get(format!("{}/healthz", app.address)).send().await;
    assert!(
        refused.is_err(),
        "a new connection no longer gets the old certificate: {refused:?}"
    );
}

async fn a_broken_new_pair_is_refused_and_the_old_certificate_kept(backend: Backend) {
    let pki = Pki::new("Test CA");
    let first = pki.write_server_certificate("first");
    let flags = pki.server_flags();
    let app = TestApp::spawn_https(
        &backend,
        &as_strs(&flags),
        https_client(&[&pki.ca_der], None),
    )
    .await;
    let reloader = app.tls.as_ref().unwrap();

    // A new certificate whose key has not arrived yet: the old key does not fit it.
    let other = Pki::new("Test CA 2");
    other.write_server_certificate("second");
    replace(
        &pki.path("server.pem"),
        &std::fs::read_to_string(other.path("server.pem")).unwrap(),
    );
    let err = reloader.reload().unwrap_err().to_string();
    assert!(err.contains("does not fit the certificate"), "{err}");
    // Garbage in the certificate file.
    replace(&pki.path("server.pem"), "not a certificate");
    let err = reloader.reload_if_changed().unwrap_err().to_string();
    assert!(
        err.contains("--tls-cert") && err.contains("no PEM certificate"),
        "{err}"
    );
    // A missing key file (beside the right certificate).
    replace(
        &pki.path("server.pem"),
        &pem("CERTIFICATE", &first.chain[0]),
    );
    std::fs::remove_file(pki.path("server.key")).unwrap();
    let err = reloader.reload().unwrap_err().to_string();
    assert!(
        err.contains("cannot read the TLS private key (--tls-key)"),
        "{err}"
    );

    assert_eq!(reloader.certificate_chain(), first.chain);
    let fresh = https_client(&[&pki.ca_der], None);
    let response = fresh
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "new connections still get the old pair"
    );
}

async fn with_mtls_ca_the_server_asks_for_a_certificate_but_does_not_require_one(backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let mut flags = pki.server_flags();
    flags.extend(["--mtls-ca".into(), pki.path_str("ca.pem")]);
    let app = TestApp::spawn_https(
        &backend,
        &as_strs(&flags),
        https_client(&[&pki.ca_der], None),
    )
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200, "no certificate");
    assert_eq!(app.state.client_ca.as_ref().unwrap().len(), 1);
    for identity in [pki.client_certificate(), self_signed_client_certificate()] {
        let client = https_client(&[&pki.ca_der], Some(&identity));
        let response = client
            .get(format!("{}/.well-known/openid-configuration", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// A server on the same serving function as Latchkey's, with `flags`, whose one route shows what
/// a handler sees: `ConnectInfo<SocketAddr>`, the [`ClientCertificate`] extension, and whether
/// the proxy header reached it.
async fn spawn_probe(flags: &[&str]) -> String {
    let mut argv = vec!["latchkey"];
    argv.extend_from_slice(flags);
    argv.push("serve");
    let settings = Cli::try_parse_from(argv)
        .unwrap()
        .config
        .validate()
        .unwrap();
    let transport: TransportSettings = settings.transport;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if transport.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let address = format!("{scheme}://{}", tcp.local_addr().unwrap());
    let listener = listen(tcp, &transport);
    let router = Router::new().route("/probe", get(probe));
    tokio::spawn(latchkey::tls::serve(
        listener,
        router,
        transport.proxy.clone(),
        std::future::pending(),
    ));
    address
}

async fn probe(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
) -> Json<Value> {
    let certificate = certificate.map(|Extension(certificate)| {
        json!({
            "via": match certificate.via { Via::Tls => "tls", Via::Proxy => "proxy" },
            "chain": certificate.chain.iter().map(|der| b64(der)).collect::<Vec<_>>(),
        })
    });
    Json(json!({
        "peer_ip": peer.ip().to_string(),
        "certificate": certificate,
        "proxy_header_seen": headers.contains_key("x-ssl-client-cert"),
    }))
}

async fn get_probe(client: &reqwest::Client, address: &str, header: Option<&str>) -> Value {
    let mut request = client.get(format!("{address}/probe"));
    if let Some(value) = header {
        request = request.header("X-SSL-Client-Cert", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn a_client_certificate_reaches_the_handler_as_a_request_extension(_backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let mut flags = pki.server_flags();
    flags.extend(["--mtls-ca".into(), pki.path_str("ca.pem")]);
    let address = spawn_probe(&as_strs(&flags)).await;

    let anonymous = get_probe(&https_client(&[&pki.ca_der], None), &address, None).await;
    assert_eq!(anonymous["peer_ip"], "127.0.0.1");
    assert_eq!(anonymous["certificate"], Value::Null);

    for (name, identity) in [
        ("CA-signed (§2.1)", pki.client_certificate()),
        ("self-signed (§2.2)", self_signed_client_certificate()),
    ] {
        let client = https_client(&[&pki.ca_der], Some(&identity));
        let seen = get_probe(&client, &address, None).await;
        assert_eq!(seen["certificate"]["via"], "tls", "{name}");
        assert_eq!(
            seen["certificate"]["chain"],
            json!([b64(&identity.chain[0])]),
            "{name}"
        );
        // Every request of the connection carries it, not only the first.
        let again = get_probe(&client, &address, None).await;
        assert_eq!(again["certificate"], seen["certificate"], "{name}");
    }
}

async fn without_mtls_ca_no_client_certificate_is_asked_for(_backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let address = spawn_probe(&as_strs(&pki.server_flags())).await;
    let client = https_client(&[&pki.ca_der], Some(&pki.client_certificate()));
    let seen = get_probe(&client, &address, None).await;
    assert_eq!(seen["certificate"], Value::Null);
}

/// As NGINX's `$ssl_client_escaped_cert` writes it.
fn nginx_escaped(der: &CertificateDer<'_>) -> String {
    percent_encoding::utf8_percent_encode(
        &pem("CERTIFICATE", der),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string()
    .replace("%2D", "-")
}

async fn a_proxy_header_is_believed_from_a_trusted_proxy_only(_backend: Backend) {
    let pki = Pki::new("Test CA");
    let client = pki.client_certificate();
    let nginx = nginx_escaped(&client.chain[0]);
    let envoy = format!(
        "By=spiffe://example.org/latchkey;Hash=00;Cert=\"{nginx}\";Subject=\"CN=service-a\""
    );
    let http = reqwest::Client::new();

    let trusted = spawn_probe(&[
        "--mtls-proxy-header",
        "X-SSL-Client-Cert",
        "--trusted-proxy",
        "127.0.0.1/32",
    ])
    .await;
    for value in [&nginx, &envoy] {
        let seen = get_probe(&http, &trusted, Some(value)).await;
        assert_eq!(seen["certificate"]["via"], "proxy", "{value}");
        assert_eq!(seen["certificate"]["chain"], json!([b64(&client.chain[0])]));
        assert_eq!(
            seen["proxy_header_seen"], false,
            "the header is not passed on"
        );
    }
    for nothing in [None, Some("")] {
        let seen = get_probe(&http, &trusted, nothing).await;
        assert_eq!(seen["certificate"], Value::Null, "{nothing:?}");
    }
    let garbage = get_probe(
        &http,
        &trusted,
        Some("-----BEGIN%20CERTIFICATE-----%0AAAAA"),
    )
    .await;
    assert_eq!(
        garbage["certificate"],
        Value::Null,
        "malformed: no certificate"
    );

    let untrusted = spawn_probe(&[
        "--mtls-proxy-header",
        "x-ssl-client-cert",
        "--trusted-proxy",
        "10.0.0.0/8,192.0.2.0/24",
    ])
    .await;
    let seen = get_probe(&http, &untrusted, Some(&nginx)).await;
    assert_eq!(
        seen["certificate"],
        Value::Null,
        "from 127.0.0.1 the header is ignored"
    );
    assert_eq!(seen["proxy_header_seen"], false);
}

async fn a_trusted_proxy_header_outranks_the_proxy_s_own_tls_certificate(_backend: Backend) {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let mut flags = pki.server_flags();
    flags.extend(
        [
            "--mtls-ca",
            &pki.path_str("ca.pem"),
            "--mtls-proxy-header",
            "x-ssl-client-cert",
            "--trusted-proxy",
            "127.0.0.0/8",
        ]
        .map(String::from),
    );
    let address = spawn_probe(&as_strs(&flags)).await;
    let proxy_identity = pki.client_certificate();
    let proxy = https_client(&[&pki.ca_der], Some(&proxy_identity));
    let client = self_signed_client_certificate();
    let seen = get_probe(&proxy, &address, Some(&nginx_escaped(&client.chain[0]))).await;
    assert_eq!(seen["certificate"]["via"], "proxy");
    assert_eq!(seen["certificate"]["chain"], json!([b64(&client.chain[0])]));
    // Without the header, the proxy's own certificate is not taken for its client's.
    let seen = get_probe(&proxy, &address, None).await;
    assert_eq!(seen["certificate"], Value::Null);
}

#[test]
fn tls_setting_combinations_stop_start_up_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("LATCHKEY_TLS_CERT", "cert.pem")], "--tls-key"),
        (&[("LATCHKEY_TLS_KEY", "key.pem")], "--tls-cert"),
        (
            &[("LATCHKEY_MTLS_PROXY_HEADER", "x-ssl-client-cert")],
            "needs --trusted-proxy",
        ),
        (
            &[
                ("LATCHKEY_MTLS_PROXY_HEADER", "x-ssl-client-cert"),
                ("LATCHKEY_TRUSTED_PROXY", "10.0.0.0/8,not-a-network"),
            ],
            "'not-a-network' is not a network",
        ),
        (&[("LATCHKEY_MTLS_CA", "ca.pem")], "LATCHKEY_MTLS_CA"),
    ];
    for (env, expected) in cases {
        let mut env = env.to_vec();
        env.push(("LATCHKEY_DATABASE_URL", &url));
        // `migrate` validates the same settings as `serve`, and ends even if it wrongly accepts them.
        let err = failure_of(&run_cli(&["migrate"], &env, None));
        assert!(err.contains(expected), "{env:?}: {err}");
    }
}

#[test]
fn unusable_certificate_files_stop_serve_before_it_listens() {
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    std::fs::write(pki.path("garbage.pem"), "hello").unwrap();
    let url = format!("sqlite://{}", pki.path("latchkey.db").display());
    let cert = pki.path_str("server.pem");
    let key = pki.path_str("server.key");
    let garbage = pki.path_str("garbage.pem");
    let missing = pki.path_str("missing.pem");
    let cases: &[(&str, &str, Option<&str>, &str)] = &[
        (&garbage, &key, None, "no PEM certificate"),
        (
            &missing,
            &key,
            None,
            "cannot read the TLS certificate (--tls-cert)",
        ),
        (&cert, &garbage, None, "no usable PEM private key"),
        // The key of another certificate.
        (
            &cert,
            &pki.path_str("other.key"),
            None,
            "does not fit the certificate",
        ),
        (&cert, &key, Some(&garbage), "--mtls-ca"),
    ];
    let other = Pki::new("Other CA");
    other.write_server_certificate("other");
    std::fs::copy(other.path("server.key"), pki.path("other.key")).unwrap();
    for (cert, key, ca, expected) in cases {
        let mut env = vec![
            ("LATCHKEY_DATABASE_URL", url.as_str()),
            ("LATCHKEY_ISSUER", "https://127.0.0.1:8443"),
            ("LATCHKEY_BIND", "127.0.0.1:0"),
            ("LATCHKEY_TLS_CERT", cert),
            ("LATCHKEY_TLS_KEY", key),
        ];
        if let Some(ca) = ca {
            env.push(("LATCHKEY_MTLS_CA", ca));
        }
        let err = failure_of(&run_cli(&["serve"], &env, None));
        assert!(err.contains(expected), "{cert} {key} {ca:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_https_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    crate::helpers::install_crypto_provider();
    let pki = Pki::new("Test CA");
    pki.write_server_certificate("latchkey");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("https://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--issuer", &address])
        .args(["--tls-cert", &pki.path_str("server.pem")])
        .args(["--tls-key", &pki.path_str("server.key")])
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}", pki.path("latchkey.db").display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        let done = line.contains("latchkey is listening");
        seen.push(line);
        if done {
            break;
        }
    }
    let log = seen.join("\n");
    assert!(log.contains("https=true"), "{log}");
    let response = https_client(&[&pki.ca_der], None)
        .get(format!("{address}/healthz"))
        .send()
        .await;
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(response.unwrap().status(), 200);
    assert!(status.success(), "{status:?}: {}", rest.join("\n"));
    assert!(
        rest.iter().any(|line| line.contains("shutting down")),
        "{}",
        rest.join("\n")
    );
}
