//! The issuer identifier (OIDC Discovery §3) and the database URL's backend, validated.

use std::path::PathBuf;

use super::ConfigError;

const ISSUER: &str = "--issuer (LATCHKEY_ISSUER)";
const INSECURE_HTTP_ISSUER: &str = "--insecure-http-issuer (LATCHKEY_INSECURE_HTTP_ISSUER)";
const DATABASE_URL: &str = "--database-url (LATCHKEY_DATABASE_URL)";

/// The issuer identifier, validated (OIDC Discovery §3) and normalised: the scheme and host in lower
/// case (RFC 3986 §6.2.2.1), a default port dropped, percent-encoding as the WHATWG URL parser leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    url: String,
    https: bool,
    loopback: bool,
}

impl Issuer {
    /// OIDC Discovery §3 / RFC 8414 §2: an `https` URL with no query, fragment or user information.
    /// Plain `http` is accepted for a loopback host (a developer's machine, RFC 8252 §8.3), and for any
    /// other host only when `allow_insecure_http` says the operator chose it (`--insecure-http-issuer`).
    pub fn parse(raw: &str, allow_insecure_http: bool) -> Result<Self, ConfigError> {
        if raw.trim() != raw {
            return Err(ConfigError::new(
                ISSUER,
                "must not start or end with spaces",
            ));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| ConfigError::new(ISSUER, format!("'{raw}' is not a URL ({e})")))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => {
                return Err(ConfigError::new(
                    ISSUER,
                    "must use the https (or http) scheme",
                ));
            }
        };
        if url.query().is_some() || raw.contains('?') {
            return Err(ConfigError::new(ISSUER, "must not contain a query"));
        }
        if url.fragment().is_some() || raw.contains('#') {
            return Err(ConfigError::new(ISSUER, "must not contain a fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::new(
                ISSUER,
                "must not contain user information",
            ));
        }
        let loopback = match url.host() {
            None | Some(url::Host::Domain("")) => {
                return Err(ConfigError::new(ISSUER, "must name a host"));
            }
            Some(host) => is_loopback_host(&host),
        };
        // OIDC Discovery §3: "URL using the https scheme". Plain http is only safe where nothing
        // travels over a network: the loopback interface.
        if !https && !loopback && !allow_insecure_http {
            return Err(ConfigError::new(
                ISSUER,
                format!(
                    "'{raw}' uses plain http on a non-loopback host; use https (OIDC Discovery §3), \
                     or pass {INSECURE_HTTP_ISSUER} if TLS really ends in front of this server"
                ),
            ));
        }
        // The parser adds a `/` to an empty path; an issuer configured without one keeps none.
        let mut normalised = url.as_str().to_owned();
        if url.path() == "/" && !raw.ends_with('/') {
            normalised.pop();
        }
        Ok(Self {
            url: normalised,
            https,
            loopback,
        })
    }

    /// The issuer as normalised (the `iss` claim and the discovery `issuer`).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The public URL of a path on this server (OIDC Discovery §4: a trailing `/` is dropped first).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    /// The issuer's path without its trailing `/`: `""` for `https://id.example.com`, `/tenant` for
    /// `https://id.example.com/tenant/`. Every route is served under it (OIDC Discovery §4).
    pub fn path(&self) -> &str {
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        after_scheme
            .find('/')
            .map_or("", |at| &after_scheme[at..])
            .trim_end_matches('/')
    }

    /// The `Path` of the cookies Latchkey sets: the issuer's path, `/` for an issuer without one,
    /// so they go only to this issuer's routes, not to other tenants on the same host.
    pub fn cookie_path(&self) -> String {
        match self.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        }
    }

    /// Whether the issuer is served over TLS (cookies get `Secure`, HSTS is sent): decided from the
    /// parsed scheme, so `HTTPS://` counts.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Whether the issuer names the loopback interface (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

/// Whether `host` is the loopback interface: `localhost` and its subdomains (RFC 6761 §6.3),
/// `127.0.0.0/8` or `::1`. Plain `http` to it never crosses a network.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => *name == "localhost" || name.ends_with(".localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Which database backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A SQLite file (the path) or, with `None`, an in-memory database.
    Sqlite(Option<PathBuf>),
    /// A PostgreSQL server.
    Postgres,
}

impl DatabaseKind {
    /// The backend is chosen by the URL scheme.
    pub fn of(url: &str) -> Result<Self, ConfigError> {
        let (scheme, rest) = url.split_once(':').ok_or_else(|| {
            ConfigError::new(
                DATABASE_URL,
                "expected sqlite://FILE or postgres://USER@HOST/DB",
            )
        })?;
        match scheme {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "sqlite" => {
                let path = rest.trim_start_matches("//");
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
                    Ok(Self::Sqlite(None))
                } else {
                    Ok(Self::Sqlite(Some(PathBuf::from(path))))
                }
            }
            other => Err(ConfigError::new(
                DATABASE_URL,
                format!("unknown scheme '{other}' (expected sqlite or postgres)"),
            )),
        }
    }
}
