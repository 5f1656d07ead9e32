//! Configuration: one clap struct whose every field is also a `LATCHKEY_*` environment variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::domain::alg::SigningAlg;
use secrecy::{ExposeSecret, SecretString};

/// The settings every command reads: flags, each also an environment variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// The issuer identifier (OIDC Discovery §3): the public base URL of this server, no query or fragment.
    #[arg(
        long,
        env = "LATCHKEY_ISSUER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub issuer: String,

    /// Accept a plain-`http` issuer on a non-loopback host (TLS ends at a proxy on the same trusted
    /// network). Without it such an issuer is refused (OIDC Discovery §3 requires https).
    #[arg(
        long,
        env = "LATCHKEY_INSECURE_HTTP_ISSUER",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub insecure_http_issuer: bool,

    /// The address the HTTP server listens on.
    #[arg(
        long,
        env = "LATCHKEY_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Serve `GET /metrics` (Prometheus) on this address only, instead of beside the OAuth endpoints
    /// on --bind (for example a private interface the scraper reaches).
    #[arg(long, env = "LATCHKEY_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// Where state lives: `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_URL",
        default_value = "sqlite://latchkey.db",
        hide_env_values = true,
        global = true
    )]
    pub database_url: SecretString,

    /// The largest number of pooled database connections.
    #[arg(
        long,
        env = "LATCHKEY_DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub database_max_connections: u32,

    /// The secret that encrypts signing keys at rest (at least 32 characters).
    /// Required with PostgreSQL; with SQLite a secret file beside the database is created when absent.
    #[arg(
        long,
        env = "LATCHKEY_KEY_ENCRYPTION_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub key_encryption_secret: Option<SecretString>,

    /// A file holding the key-encryption secret (instead of `--key-encryption-secret`).
    #[arg(long, env = "LATCHKEY_KEY_ENCRYPTION_SECRET_FILE", global = true)]
    pub key_encryption_secret_file: Option<PathBuf>,

    /// Lifetime of access tokens (e.g. `600`, `10m`, `1h`).
    #[arg(long, env = "LATCHKEY_ACCESS_TOKEN_TTL", default_value = "10m", value_parser = parse_duration, global = true)]
    pub access_token_ttl: Duration,

    /// The `aud` of access tokens (RFC 9068 §3 default resource); defaults to the issuer.
    #[arg(long, env = "LATCHKEY_ACCESS_TOKEN_AUDIENCE", global = true)]
    pub access_token_audience: Option<String>,

    /// How access tokens are signed: RS256, ES256 or EdDSA (RFC 7518 §3.1, RFC 8037).
    #[arg(
        long,
        env = "LATCHKEY_ACCESS_TOKEN_ALG",
        default_value = "RS256",
        global = true
    )]
    pub access_token_alg: SigningAlg,

    /// How ID tokens are signed by default (a client may override it): RS256, ES256 or EdDSA.
    #[arg(
        long,
        env = "LATCHKEY_ID_TOKEN_ALG",
        default_value = "RS256",
        global = true
    )]
    pub id_token_alg: SigningAlg,

    /// Lifetime of ID tokens.
    #[arg(long, env = "LATCHKEY_ID_TOKEN_TTL", default_value = "10m", value_parser = parse_duration, global = true)]
    pub id_token_ttl: Duration,

    /// Lifetime of refresh tokens.
    #[arg(long, env = "LATCHKEY_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration, global = true)]
    pub refresh_token_ttl: Duration,

    /// The most a grant's refresh tokens can live, however often they are refreshed: counted from the
    /// user's authorization (RFC 9700 §4.14.2 "refresh token expiration").
    #[arg(long, env = "LATCHKEY_REFRESH_TOKEN_ABSOLUTE_TTL", default_value = "90d", value_parser = parse_duration, global = true)]
    pub refresh_token_absolute_ttl: Duration,

    /// How long after rotation a retried refresh token is answered instead of revoking its grant.
    #[arg(long, env = "LATCHKEY_REFRESH_TOKEN_GRACE", default_value = "5s", value_parser = parse_duration, global = true)]
    pub refresh_token_grace: Duration,

    /// Lifetime of a browser sign-in session.
    #[arg(long, env = "LATCHKEY_SESSION_TTL", default_value = "8h", value_parser = parse_duration, global = true)]
    pub session_ttl: Duration,

    /// How often expired codes, tokens, revocations and sessions are deleted.
    #[arg(long, env = "LATCHKEY_GC_INTERVAL", default_value = "10m", value_parser = parse_duration, global = true)]
    pub gc_interval: Duration,

    /// How long a client registration read from the store is reused by the token, introspection and
    /// revocation endpoints (0 = read it every time).
    #[arg(long, env = "LATCHKEY_CLIENT_CACHE_TTL", default_value = "5s", value_parser = parse_duration, global = true)]
    pub client_cache_ttl: Duration,

    /// How often each instance re-reads the signing keys from the store.
    #[arg(long, env = "LATCHKEY_KEY_REFRESH_INTERVAL", default_value = "30s", value_parser = parse_duration, global = true)]
    pub key_refresh_interval: Duration,

    /// How long audit events are kept before housekeeping deletes them.
    #[arg(long, env = "LATCHKEY_AUDIT_RETENTION", default_value = "90d", value_parser = parse_duration, global = true)]
    pub audit_retention: Duration,

    /// Record every access token issued (client credentials included) in the audit trail, in batches
    /// off the request path. Off by default: client-credentials issuance then writes nothing.
    #[arg(
        long,
        env = "LATCHKEY_AUDIT_TOKEN_ISSUANCE",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub audit_token_issuance: bool,

    /// Log lines as `text` (for people) or `json` (one object per line, for log pipelines).
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,

    /// How long a signing key signs before a running server rotates it by itself (0 = only
    /// `latchkey keys rotate`).
    #[arg(long, env = "LATCHKEY_KEY_ROTATION_INTERVAL", default_value = "90d", value_parser = parse_duration, global = true)]
    pub key_rotation_interval: Duration,

    /// How long the next key is published before it may start signing (default: the JWKS
    /// Cache-Control max-age, 5 minutes, plus --key-refresh-interval).
    #[arg(long, env = "LATCHKEY_KEY_PUBLISH_AHEAD", value_parser = parse_duration, global = true)]
    pub key_publish_ahead: Option<Duration>,
}

/// A setting that stopped start-up, named as the user wrote it.
#[derive(Debug, thiserror::Error)]
#[error("invalid {setting}: {message}")]
pub struct ConfigError {
    /// The flag and environment variable at fault.
    pub setting: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

const ISSUER: &str = "--issuer (LATCHKEY_ISSUER)";
const INSECURE_HTTP_ISSUER: &str = "--insecure-http-issuer (LATCHKEY_INSECURE_HTTP_ISSUER)";
const DATABASE_URL: &str = "--database-url (LATCHKEY_DATABASE_URL)";
pub(crate) const KEY_SECRET: &str = "--key-encryption-secret (LATCHKEY_KEY_ENCRYPTION_SECRET)";
pub(crate) const KEY_SECRET_FILE: &str =
    "--key-encryption-secret-file (LATCHKEY_KEY_ENCRYPTION_SECRET_FILE)";

/// The minimum length of a key-encryption secret, in characters.
pub const MIN_SECRET_LEN: usize = 32;

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
            None => return Err(ConfigError::new(ISSUER, "must name a host")),
            Some(url::Host::Domain("")) => {
                return Err(ConfigError::new(ISSUER, "must name a host"));
            }
            Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
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

/// Where the key-encryption secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Given directly.
    Value(SecretString),
    /// Read from a file the operator manages; it must exist.
    File(PathBuf),
    /// The embedded default: a file beside the SQLite database, created (mode 0600) if missing.
    DefaultFile(PathBuf),
    /// An in-memory database: a fresh random secret for this process.
    Ephemeral,
    /// None given, and the backend has no default (PostgreSQL): commands that need keys refuse to run.
    Missing,
}

/// Token and session lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access token lifetime (RFC 9068 `exp - iat`).
    pub access_token: i64,
    /// ID token lifetime (OIDC Core §2 `exp - iat`).
    pub id_token: i64,
    /// Refresh token lifetime (sliding: each rotation starts it again).
    pub refresh_token: i64,
    /// The absolute cap on a grant's refresh tokens, counted from the authorization.
    pub refresh_token_absolute: i64,
    /// Grace window for a retried, already-rotated refresh token.
    pub refresh_token_grace: i64,
    /// Browser session lifetime.
    pub session: i64,
    /// Authorization code lifetime: 60 s (RFC 6749 §4.1.2 recommends at most ten minutes).
    pub authorization_code: i64,
}

impl Lifetimes {
    /// The longest life of a token signed under the server-wide settings (an API may set a longer
    /// access-token lifetime of its own: see `keys::retention`).
    pub fn key_retention(&self) -> i64 {
        self.access_token.max(self.id_token)
    }

    /// How long a grant revocation is remembered: as long as anything issued from the grant (an
    /// access token, a refresh token) could still be presented.
    pub fn revocation_retention(&self) -> i64 {
        self.access_token.max(self.refresh_token)
    }

    /// When a refresh token issued at `now` for a grant made at `grant_created_at` expires: the
    /// sliding `--refresh-token-ttl`, capped by `--refresh-token-absolute-ttl`.
    pub fn refresh_token_expiry(&self, grant_created_at: i64, now: i64) -> i64 {
        (now.saturating_add(self.refresh_token))
            .min(grant_created_at.saturating_add(self.refresh_token_absolute))
    }
}

/// Whole seconds, saturating.
fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The JWKS `Cache-Control` max-age when the next key is published long enough ahead.
pub const JWKS_MAX_AGE: i64 = 300;

impl Settings {
    /// The key life-cycle times `keys::` works with.
    pub fn key_policy(&self) -> KeyPolicy {
        KeyPolicy {
            token_lifetime: self.lifetimes.key_retention(),
            refresh_interval: seconds(self.key_refresh_interval),
            rotation_interval: seconds(self.key_rotation_interval),
            publish_ahead: self.key_publish_ahead,
        }
    }
}

/// When keys rotate and how long they stay published (DESIGN.md "Keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The longest life of a token signed under the server-wide settings.
    pub token_lifetime: i64,
    /// `--key-refresh-interval`: how long another instance may still sign with a key after a rotation.
    pub refresh_interval: i64,
    /// `--key-rotation-interval` (0: manual rotation only).
    pub rotation_interval: i64,
    /// `--key-publish-ahead`: how long the next key is published before it may sign.
    pub publish_ahead: i64,
}

impl KeyPolicy {
    /// The JWKS `Cache-Control` max-age: a verifier's cached copy must already hold a key when it
    /// starts signing, and a key is published `publish_ahead` before, which an instance may learn up
    /// to `refresh_interval` late.
    pub fn jwks_max_age(&self) -> i64 {
        JWKS_MAX_AGE
            .min(self.publish_ahead - self.refresh_interval)
            .max(0)
    }
}

/// The validated configuration the server and the CLI run with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer identifier.
    pub issuer: Issuer,
    /// The `aud` of access tokens.
    pub access_token_audience: String,
    /// The access-token signing algorithm.
    pub access_token_alg: SigningAlg,
    /// The default ID-token signing algorithm.
    pub id_token_alg: SigningAlg,
    /// The listen address.
    pub bind: SocketAddr,
    /// Where `/metrics` is served when not on `bind`.
    pub metrics_bind: Option<SocketAddr>,
    /// The database URL (may hold a password, so it is secret).
    pub database_url: SecretString,
    /// The backend the URL names.
    pub database_kind: DatabaseKind,
    /// Pool size.
    pub database_max_connections: u32,
    /// Where the key-encryption secret comes from.
    pub key_secret: SecretSource,
    /// Lifetimes.
    pub lifetimes: Lifetimes,
    /// How often instances re-read the key set.
    pub key_refresh_interval: Duration,
    /// How long a key signs before a server rotates it (zero: manual only).
    pub key_rotation_interval: Duration,
    /// Seconds the next key is published before it may sign.
    pub key_publish_ahead: i64,
    /// How often housekeeping runs.
    pub gc_interval: Duration,
    /// Seconds a client registration is cached.
    pub client_cache_ttl: i64,
    /// Seconds audit events are kept.
    pub audit_retention: i64,
    /// Whether every token issued is an audit event.
    pub audit_token_issuance: bool,
}

impl Config {
    /// Validate every setting; the first problem is returned naming its flag and variable.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let issuer = Issuer::parse(&self.issuer, self.insecure_http_issuer)?;
        let database_kind = DatabaseKind::of(self.database_url.expose_secret())?;
        if self.database_max_connections == 0 {
            return Err(ConfigError::new(
                "--database-max-connections (LATCHKEY_DATABASE_MAX_CONNECTIONS)",
                "must be at least 1",
            ));
        }
        let key_secret = match (
            &self.key_encryption_secret,
            &self.key_encryption_secret_file,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    KEY_SECRET,
                    "give either the secret or the secret file, not both",
                ));
            }
            (Some(secret), None) => {
                check_secret_strength(secret.expose_secret(), KEY_SECRET)?;
                SecretSource::Value(secret.clone())
            }
            (None, Some(path)) => SecretSource::File(path.clone()),
            (None, None) => match &database_kind {
                DatabaseKind::Sqlite(Some(path)) => {
                    SecretSource::DefaultFile(default_secret_path(path))
                }
                DatabaseKind::Sqlite(None) => SecretSource::Ephemeral,
                DatabaseKind::Postgres => SecretSource::Missing,
            },
        };
        let lifetimes = Lifetimes {
            access_token: positive(
                seconds(self.access_token_ttl),
                "--access-token-ttl (LATCHKEY_ACCESS_TOKEN_TTL)",
            )?,
            id_token: positive(
                seconds(self.id_token_ttl),
                "--id-token-ttl (LATCHKEY_ID_TOKEN_TTL)",
            )?,
            refresh_token: positive(
                seconds(self.refresh_token_ttl),
                "--refresh-token-ttl (LATCHKEY_REFRESH_TOKEN_TTL)",
            )?,
            refresh_token_absolute: positive(
                seconds(self.refresh_token_absolute_ttl),
                "--refresh-token-absolute-ttl (LATCHKEY_REFRESH_TOKEN_ABSOLUTE_TTL)",
            )?,
            refresh_token_grace: seconds(self.refresh_token_grace),
            session: positive(
                seconds(self.session_ttl),
                "--session-ttl (LATCHKEY_SESSION_TTL)",
            )?,
            authorization_code: 60,
        };
        if self.gc_interval.is_zero() {
            return Err(ConfigError::new(
                "--gc-interval (LATCHKEY_GC_INTERVAL)",
                "must be greater than zero",
            ));
        }
        if self.key_refresh_interval.is_zero() {
            return Err(ConfigError::new(
                "--key-refresh-interval (LATCHKEY_KEY_REFRESH_INTERVAL)",
                "must be greater than zero",
            ));
        }
        let key_publish_ahead = match self.key_publish_ahead {
            Some(ahead) => seconds(ahead),
            None => JWKS_MAX_AGE.saturating_add(seconds(self.key_refresh_interval)),
        };
        if key_publish_ahead < seconds(self.key_refresh_interval) {
            return Err(ConfigError::new(
                "--key-publish-ahead (LATCHKEY_KEY_PUBLISH_AHEAD)",
                "must be at least --key-refresh-interval, so that every instance has seen the next key before it signs",
            ));
        }
        if !self.key_rotation_interval.is_zero()
            && seconds(self.key_rotation_interval) <= key_publish_ahead
        {
            return Err(ConfigError::new(
                "--key-rotation-interval (LATCHKEY_KEY_ROTATION_INTERVAL)",
                "must be longer than --key-publish-ahead (or 0 for manual rotation only)",
            ));
        }
        let access_token_audience = match self.access_token_audience.as_deref().map(str::trim) {
            Some("") => {
                return Err(ConfigError::new(
                    "--access-token-audience (LATCHKEY_ACCESS_TOKEN_AUDIENCE)",
                    "must not be empty",
                ));
            }
            Some(audience) => audience.to_owned(),
            None => issuer.as_str().to_owned(),
        };
        Ok(Settings {
            access_token_audience,
            access_token_alg: self.access_token_alg,
            id_token_alg: self.id_token_alg,
            issuer,
            bind: self.bind,
            metrics_bind: self.metrics_bind,
            database_url: self.database_url.clone(),
            database_kind,
            database_max_connections: self.database_max_connections,
            key_secret,
            lifetimes,
            key_refresh_interval: self.key_refresh_interval,
            key_rotation_interval: self.key_rotation_interval,
            key_publish_ahead,
            gc_interval: self.gc_interval,
            client_cache_ttl: seconds(self.client_cache_ttl),
            audit_token_issuance: self.audit_token_issuance,
            audit_retention: positive(
                seconds(self.audit_retention),
                "--audit-retention (LATCHKEY_AUDIT_RETENTION)",
            )?,
        })
    }
}

/// The embedded default's secret file: `<database file>.secret`, beside the database.
pub fn default_secret_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".secret");
    PathBuf::from(name)
}

/// A key-encryption secret must be long enough to resist guessing.
pub(crate) fn check_secret_strength(
    secret: &str,
    setting: &'static str,
) -> Result<(), ConfigError> {
    if secret.chars().count() < MIN_SECRET_LEN {
        return Err(ConfigError::new(
            setting,
            format!("must be at least {MIN_SECRET_LEN} characters (try: openssl rand -base64 32)"),
        ));
    }
    Ok(())
}

fn positive(value: i64, setting: &'static str) -> Result<i64, ConfigError> {
    if value <= 0 {
        return Err(ConfigError::new(setting, "must be at least one second"));
    }
    Ok(value)
}

/// Parse `600`, `10m`, `1h30m`, `30d` into a duration (a bare number is seconds).
pub(crate) fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(raw)
        .map_err(|e| format!("'{raw}' is not a duration ({e}); try 600, 10m or 1h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(raw: &str) -> Result<Issuer, ConfigError> {
        Issuer::parse(raw, false)
    }

    #[test]
    fn issuer_with_a_query_or_fragment_is_refused() {
        assert!(issuer("https://id.example.com?x=1").is_err());
        assert!(issuer("https://id.example.com#frag").is_err());
        assert!(issuer("ftp://id.example.com").is_err());
        assert!(issuer("not a url").is_err());
    }

    #[test]
    fn issuer_scheme_and_host_case_is_normalised_and_https_is_decided_from_the_url() {
        let upper = issuer("HTTPS://ID.Example.COM").unwrap();
        assert_eq!(upper.as_str(), "https://id.example.com");
        assert!(
            upper.is_https(),
            "HTTPS:// still means Secure cookies and HSTS"
        );
        assert_eq!(
            issuer("Https://ID.example.com:443/Tenant")
                .unwrap()
                .as_str(),
            "https://id.example.com/Tenant",
            "the default port goes; the path keeps its case"
        );
        assert!(!issuer("http://127.0.0.1:8080").unwrap().is_https());
    }

    #[test]
    fn issuer_with_leading_or_trailing_spaces_is_refused() {
        for raw in [
            " https://id.example.com",
            "https://id.example.com ",
            "https://id.example.com\n",
        ] {
            let err = issuer(raw).unwrap_err();
            assert!(err.to_string().contains("spaces"), "{raw:?}: {err}");
        }
    }

    #[test]
    fn plain_http_issuer_needs_loopback_or_the_insecure_flag() {
        for loopback in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:8080",
        ] {
            let parsed = issuer(loopback).unwrap();
            assert!(parsed.is_loopback(), "{loopback}");
        }
        for remote in [
            "http://id.example.com",
            "HTTP://10.0.0.5:8080",
            "http://[2001:db8::1]",
            "http://localhost.example.com",
        ] {
            let err = issuer(remote).unwrap_err();
            assert!(
                err.to_string().contains("--insecure-http-issuer"),
                "{remote}: {err}"
            );
            let allowed = Issuer::parse(remote, true).unwrap();
            assert!(!allowed.is_https() && !allowed.is_loopback(), "{remote}");
        }
        assert!(!issuer("https://id.example.com").unwrap().is_loopback());
    }

    #[test]
    fn issuer_path_is_the_prefix_every_route_lives_under() {
        assert_eq!(issuer("https://id.example.com").unwrap().path(), "");
        assert_eq!(issuer("https://id.example.com/").unwrap().path(), "");
        assert_eq!(
            issuer("https://id.example.com/tenant/").unwrap().path(),
            "/tenant"
        );
        assert_eq!(issuer("http://127.0.0.1:8080/a/b").unwrap().path(), "/a/b");
    }

    #[test]
    fn issuer_is_kept_and_endpoints_drop_its_trailing_slash() {
        let issuer = issuer("https://id.example.com/tenant/").unwrap();
        assert_eq!(issuer.as_str(), "https://id.example.com/tenant/");
        assert_eq!(
            issuer.endpoint("/jwks"),
            "https://id.example.com/tenant/jwks"
        );
    }

    #[test]
    fn database_kind_follows_the_scheme() {
        assert_eq!(
            DatabaseKind::of("sqlite://latchkey.db").unwrap(),
            DatabaseKind::Sqlite(Some(PathBuf::from("latchkey.db")))
        );
        assert_eq!(
            DatabaseKind::of("sqlite::memory:").unwrap(),
            DatabaseKind::Sqlite(None)
        );
        assert_eq!(
            DatabaseKind::of("postgres://u@h/db").unwrap(),
            DatabaseKind::Postgres
        );
        let err = DatabaseKind::of("mysql://u@h/db").unwrap_err();
        assert!(err.to_string().contains("LATCHKEY_DATABASE_URL"));
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("600").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn default_secret_sits_beside_the_database() {
        assert_eq!(
            default_secret_path(Path::new("data/latchkey.db")),
            PathBuf::from("data/latchkey.db.secret")
        );
    }
}
