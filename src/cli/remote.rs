//! `--server URL`: the admin commands through a running server's admin API (`/admin/v1/…`) instead
//! of its database. The CLI signs in as an admin client (`latchkey admin bootstrap`) whose id and
//! secret come from the environment only, never from a flag (`ps` would show it), and gets a
//! `latchkey:admin` token by client credentials (RFC 6749 §4.4) at the token endpoint the server's
//! discovery document names (OIDC Discovery 1.0 §4).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use clap::Args;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::CliError;
use crate::admin::Change;
use crate::config::is_loopback_host;
use crate::oauth::admin::ADMIN_SCOPE;
use crate::paths::OPENID_CONFIGURATION_PATH;

/// The environment variable holding the admin client's id.
pub const CLIENT_ID_VAR: &str = "LATCHKEY_ADMIN_CLIENT_ID";
/// The environment variable holding the admin client's secret (never a flag: `ps` shows flags).
pub const CLIENT_SECRET_VAR: &str = "LATCHKEY_ADMIN_CLIENT_SECRET";

/// How long connecting to the server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take (a new password is hashed with argon2id on the server).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The most of one answer read: a long audit listing fits, a misdirected `--server` cannot fill memory.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Where the admin commands go: the database (the default), or a running server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Manage the server at this URL through its admin API instead of opening the database: its
    /// issuer URL (with the issuer's path, if any), `https://…`, or `http://` on a loopback host.
    /// The admin client's id and secret are read from LATCHKEY_ADMIN_CLIENT_ID and
    /// LATCHKEY_ADMIN_CLIENT_SECRET (never from a flag).
    #[arg(long, env = "LATCHKEY_SERVER", value_name = "URL", global = true)]
    pub server: Option<String>,

    /// A PEM file of CA certificates to trust for --server, besides the built-in (Mozilla) roots:
    /// for a server whose certificate a private CA issued.
    #[arg(
        long,
        env = "LATCHKEY_SERVER_CA_FILE",
        value_name = "FILE",
        global = true
    )]
    pub server_ca_file: Option<PathBuf>,
}

/// A running server's admin API, with an admin token.
pub struct Remote {
    http: reqwest::Client,
    /// The server URL without a trailing `/`: the admin paths are appended to it.
    base: String,
    /// `Bearer …` (RFC 6750 §2.1), marked sensitive so no log or `Debug` shows it.
    authorization: HeaderValue,
}

impl Remote {
    /// Check `server`, read the admin client's credentials, find the token endpoint in the server's
    /// discovery document and get an admin token there.
    pub async fn connect(server: &str, ca_file: Option<&Path>) -> Result<Self, CliError> {
        let base = server_url(server)?;
        let credentials = Credentials::from_env()?;
        let http = http_client(ca_file)?;
        let token_endpoint = discover(&http, &base).await?;
        let token = admin_token(&http, &token_endpoint, &credentials).await?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                CliError::Remote("the server's access token is not a valid header".into())
            })?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            base,
            authorization,
        })
    }

    /// `GET path`, its JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.call(Method::GET, path, None).await
    }

    /// `method path` with the JSON `body`, its JSON answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, CliError> {
        let answer = self.send(method.clone(), path, body).await?;
        serde_json::from_slice(&answer).map_err(|err| {
            CliError::Remote(format!(
                "the server's answer to {method} {path} is not what this CLI expects ({err}); \
                 is the CLI as new as the server?"
            ))
        })
    }

    /// `method path` (a deletion: `204`, no answer to read).
    pub async fn call_done(&self, method: Method, path: &str) -> Result<(), CliError> {
        self.send(method, path, None).await.map(drop)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, CliError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body)
                .map_err(|err| CliError::Remote(format!("cannot encode the request: {err}")))?;
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|err| unreachable(&self.base, &err))?;
        let status = response.status();
        let answer = read_answer(response, &self.base).await?;
        if status.is_success() {
            return Ok(answer);
        }
        let refusal = Refusal::of(&answer);
        Err(CliError::Remote(match status {
            // RFC 6750 §3.1: the token is bad (expired, revoked, its client deleted meanwhile).
            StatusCode::UNAUTHORIZED => format!(
                "the server refused the admin token: {} (check {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR})",
                refusal.or(status)
            ),
            StatusCode::FORBIDDEN => format!(
                "the admin client is not allowed the admin API: {} (it needs the {ADMIN_SCOPE} scope)",
                refusal.or(status)
            ),
            // The CLI's own message, as the local command prints it.
            _ => match refusal.description() {
                Some(description) => description,
                None => format!("the server answered {status} to {method} {path}"),
            },
        }))
    }
}

/// The admin client's id and secret, from the environment.
struct Credentials {
    client_id: String,
    secret: SecretString,
}

impl Credentials {
    fn from_env() -> Result<Self, CliError> {
        let read = |name: &str| match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(Some(value)),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(CliError::Remote(format!("{name} is not valid UTF-8")))
            }
        };
        match (read(CLIENT_ID_VAR)?, read(CLIENT_SECRET_VAR)?) {
            (Some(client_id), Some(secret)) => Ok(Self {
                client_id,
                secret: SecretString::from(secret),
            }),
            (id, _) => {
                let missing = if id.is_none() {
                    CLIENT_ID_VAR
                } else {
                    CLIENT_SECRET_VAR
                };
                Err(CliError::Remote(format!(
                    "--server needs an admin client's id and secret in {CLIENT_ID_VAR} and \
                     {CLIENT_SECRET_VAR} (`latchkey admin bootstrap` creates one); {missing} is not set"
                )))
            }
        }
    }

    /// RFC 6749 §2.3.1: `Basic` over the form-urlencoded id and secret.
    fn basic(&self) -> Result<HeaderValue, CliError> {
        let encode =
            |raw: &str| url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
        let pair = format!(
            "{}:{}",
            encode(&self.client_id),
            encode(self.secret.expose_secret())
        );
        let mut value = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
        .map_err(|_| CliError::Remote(format!("{CLIENT_ID_VAR} cannot be sent in a header")))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// `raw` as the base of the admin API's URLs: `https`, or `http` on a loopback host only, since the
/// client secret and any new password travel in its requests; no trailing `/`.
fn server_url(raw: &str) -> Result<String, CliError> {
    let url = url::Url::parse(raw)
        .map_err(|err| CliError::Remote(format!("--server '{raw}' is not a URL ({err})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CliError::Remote(format!(
            "--server must not contain user information: the admin client's credentials come from \
             {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR}"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CliError::Remote(
            "--server must not contain a query or a fragment".into(),
        ));
    }
    check_transport(&url, "--server")?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Refuse to send secrets to `url` in the clear: it must be `https`, or `http` on a loopback host.
fn check_transport(url: &url::Url, what: &str) -> Result<(), CliError> {
    let loopback = match url.host() {
        None | Some(url::Host::Domain("")) => {
            return Err(CliError::Remote(format!("{what} '{url}' names no host")));
        }
        Some(host) => is_loopback_host(&host),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(CliError::Remote(format!(
            "refusing {what} '{url}': plain http to a host other than this machine would send the admin \
             client's secret and any password in the clear; use https (http is accepted only for \
             localhost, 127.0.0.1 or [::1])"
        ))),
        other => Err(CliError::Remote(format!(
            "{what} '{url}' uses '{other}': give an https URL (or http on a loopback host)"
        ))),
    }
}

/// The HTTP client: rustls on aws-lc-rs trusting the Mozilla roots (and `ca_file`'s), no redirects
/// followed (a redirect must not carry the token elsewhere), bounded waits.
fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, CliError> {
    let mut roots = crate::http_client::default_roots();
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    let tls = crate::http_client::tls_config(roots)
        .map_err(|err| CliError::Remote(format!("cannot set up TLS: {err}")))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("latchkey-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| CliError::Remote(format!("cannot set up the HTTP client: {err}")))
}

/// Trust the CA certificates of the PEM file at `path` too.
fn add_ca_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), CliError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|err| CliError::Remote(format!("cannot read --server-ca-file {shown}: {err}")))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| {
            CliError::Remote(format!("--server-ca-file {shown} is not PEM: {err}"))
        })?;
        roots.add(cert).map_err(|err| {
            CliError::Remote(format!(
                "--server-ca-file {shown} holds a certificate that cannot be a trust anchor: {err}"
            ))
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(CliError::Remote(format!(
            "--server-ca-file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(())
}

/// OIDC Discovery 1.0 §4: the metadata is at the issuer plus `/.well-known/openid-configuration`,
/// the issuer's path kept. Returns the token endpoint, checked like `--server`.
async fn discover(http: &reqwest::Client, base: &str) -> Result<url::Url, CliError> {
    #[derive(Deserialize)]
    struct Metadata {
        token_endpoint: String,
    }
    let url = format!("{base}{OPENID_CONFIGURATION_PATH}");
    let response = http
        .get(&url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|err| unreachable(base, &err))?;
    let status = response.status();
    let answer = read_answer(response, base).await?;
    if status != StatusCode::OK {
        return Err(CliError::Remote(format!(
            "{url} answered {status}: is --server the Latchkey server's URL (with the issuer's path, \
             if it has one)?"
        )));
    }
    let metadata: Metadata = serde_json::from_slice(&answer).map_err(|_| {
        CliError::Remote(format!(
            "{url} is not an OpenID Connect discovery document with a token_endpoint"
        ))
    })?;
    let endpoint = url::Url::parse(&metadata.token_endpoint).map_err(|err| {
        CliError::Remote(format!("the token_endpoint of {url} is not a URL ({err})"))
    })?;
    check_transport(&endpoint, "the discovered token endpoint")?;
    Ok(endpoint)
}

/// RFC 6749 §4.4: a client-credentials token with `latchkey:admin`, the client authenticated by
/// `client_secret_basic` (§2.3.1). The secret goes in a sensitive header, never in a message.
async fn admin_token(
    http: &reqwest::Client,
    endpoint: &url::Url,
    credentials: &Credentials,
) -> Result<SecretString, CliError> {
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: String,
        token_type: String,
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", ADMIN_SCOPE)
        .finish();
    let response = http
        .post(endpoint.clone())
        .header(AUTHORIZATION, credentials.basic()?)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(form)
        .send()
        .await
        .map_err(|err| unreachable(endpoint.as_str(), &err))?;
    let status = response.status();
    let answer = read_answer(response, endpoint.as_str()).await?;
    if status != StatusCode::OK {
        let refusal = Refusal::of(&answer);
        return Err(CliError::Remote(match refusal.error.as_deref() {
            // RFC 6749 §5.2: unknown client, wrong secret, or a method it is not registered for.
            Some("invalid_client") => format!(
                "the server refused the admin client's credentials ({CLIENT_ID_VAR}, \
                 {CLIENT_SECRET_VAR}): {}",
                refusal.or(status)
            ),
            Some("invalid_scope" | "unauthorized_client") => format!(
                "the client in {CLIENT_ID_VAR} may not use the admin API: {} (an admin client has \
                 the {ADMIN_SCOPE} scope and the client_credentials grant; see `latchkey admin \
                 bootstrap`)",
                refusal.or(status)
            ),
            _ => format!(
                "the token endpoint {endpoint} refused the admin client: {}",
                refusal.or(status)
            ),
        }));
    }
    let token: TokenResponse = serde_json::from_slice(&answer).map_err(|_| {
        CliError::Remote(format!(
            "the token endpoint {endpoint} answered no access token"
        ))
    })?;
    // RFC 6749 §7.1: the CLI knows how to use Bearer tokens (RFC 6750) and nothing else.
    if !token.token_type.eq_ignore_ascii_case("Bearer") {
        return Err(CliError::Remote(format!(
            "the token endpoint {endpoint} issued a '{}' token; the admin API takes Bearer tokens",
            clean(&token.token_type)
        )));
    }
    Ok(SecretString::from(token.access_token))
}

/// An error answer: RFC 6749 §5.2's and the admin API's `{error, error_description}`.
#[derive(Debug, Default, Deserialize)]
struct Refusal {
    error: Option<String>,
    error_description: Option<String>,
}

impl Refusal {
    fn of(answer: &[u8]) -> Self {
        serde_json::from_slice(answer).unwrap_or_default()
    }

    /// The description (or else the error code), cleaned of control characters.
    fn description(&self) -> Option<String> {
        self.error_description
            .as_deref()
            .or(self.error.as_deref())
            .map(clean)
    }

    /// The description, or the status when the answer says nothing.
    fn or(&self, status: StatusCode) -> String {
        self.description()
            .unwrap_or_else(|| format!("the server answered {status}"))
    }
}

/// Text from the server as one printable line: control characters escaped (no terminal escapes),
/// at most 1000 characters.
fn clean(text: &str) -> String {
    text.chars()
        .take(1000)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Read an answer, up to [`MAX_ANSWER_BYTES`].
async fn read_answer(mut response: reqwest::Response, base: &str) -> Result<Vec<u8>, CliError> {
    let mut answer = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| unreachable(base, &err))?
    {
        if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(CliError::Remote(format!(
                "the answer from {base} is larger than {} MiB",
                MAX_ANSWER_BYTES / (1024 * 1024)
            )));
        }
        answer.extend_from_slice(&chunk);
    }
    Ok(answer)
}

/// The server could not be reached (or stopped answering): one line with the innermost cause.
fn unreachable(url: &str, err: &reqwest::Error) -> CliError {
    if err.is_timeout() {
        return CliError::Remote(format!("cannot reach {url}: no answer in time"));
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let cause = clean(&cause.to_string());
    let hint = if cause.contains("certificate") || cause.contains("Certificate") {
        " (for a private CA, give its certificate with --server-ca-file)"
    } else {
        ""
    };
    CliError::Remote(format!("cannot reach {url}: {cause}{hint}"))
}

/// The method of a link route of the admin API: `PUT` adds the link, `DELETE` removes it.
pub fn link(change: Change) -> Method {
    match change {
        Change::Add => Method::PUT,
        Change::Remove => Method::DELETE,
    }
}

/// The characters left as they are in a path segment: RFC 3986 §2.3's unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An admin API path: `template` (a constant of `crate::paths`) with each `{…}` replaced, in order,
/// by one of `values`, percent-encoded as one path segment (RFC 3986 §3.3).
pub fn path(template: &str, values: &[&str]) -> Result<String, CliError> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let value = values.next().ok_or_else(|| {
            CliError::Remote(format!("internal: too few values for the path {template}"))
        })?;
        // A `.` or `..` segment would be resolved away by every URL parser (RFC 3986 §5.2.4).
        if value.is_empty() || *value == "." || *value == ".." {
            return Err(CliError::Remote(format!(
                "'{value}' cannot be named in a URL path; manage it without --server"
            )));
        }
        out.extend(utf8_percent_encode(value, SEGMENT));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_must_keep_secrets_off_the_network_in_the_clear() {
        let cases = [
            ("https://id.example.com", Ok("https://id.example.com")),
            ("https://id.example.com/", Ok("https://id.example.com")),
            // OIDC Discovery §4: an issuer's path is kept.
            (
                "https://id.example.com/auth/",
                Ok("https://id.example.com/auth"),
            ),
            ("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080")),
            (
                "http://localhost:8080/auth",
                Ok("http://localhost:8080/auth"),
            ),
            ("http://[::1]:8080", Ok("http://[::1]:8080")),
            ("http://id.example.com", Err("plain http")),
            ("http://10.0.0.5:8080", Err("plain http")),
            ("ftp://id.example.com", Err("uses 'ftp'")),
            ("https://admin:pw@id.example.com", Err("user information")),
            ("https://id.example.com/?a=b", Err("query")),
            ("id.example.com", Err("not a URL")),
        ];
        for (raw, expected) in cases {
            match (server_url(raw), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{raw}"),
                (Err(err), Err(want)) => {
                    assert!(err.to_string().contains(want), "{raw}: {err}")
                }
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn path_values_are_one_percent_encoded_segment_each() {
        assert_eq!(
            path("/admin/v1/apis/{audience}", &["https://orders.example.com"]).unwrap(),
            "/admin/v1/apis/https%3A%2F%2Forders.example.com"
        );
        assert_eq!(
            path(
                "/admin/v1/users/{username}/roles/{role}",
                &["al ice", "orders:admin"]
            )
            .unwrap(),
            "/admin/v1/users/al%20ice/roles/orders%3Aadmin"
        );
        assert_eq!(path("/admin/v1/clients", &[]).unwrap(), "/admin/v1/clients");
        assert!(path("/admin/v1/roles/{name}", &[".."]).is_err());
        assert!(path("/admin/v1/roles/{name}", &[]).is_err());
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        let credentials = Credentials {
            client_id: "ops:admin".into(),
            secret: SecretString::from("a b+c".to_owned()),
        };
        let header = credentials.basic().unwrap();
        assert!(header.is_sensitive());
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        // RFC 6749 §2.3.1: the id's `:` cannot split the pair once encoded.
        assert_eq!(decoded, b"ops%3Aadmin:a+b%2Bc");
    }

    #[test]
    fn server_text_is_one_printable_line() {
        assert_eq!(clean("bad\u{1b}[31m\nthing"), "bad\\u{1b}[31m\\nthing");
        assert_eq!(clean(&"x".repeat(5000)).len(), 1000);
    }
}
