//! Configuration: one clap struct whose every field is also a `LATCHKEY_*` environment variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::domain::alg::SigningAlg;
use secrecy::{ExposeSecret, SecretString};

mod issuer;
mod settings;
mod tls;

pub use issuer::{DatabaseKind, Issuer, is_loopback_host};
use settings::seconds;
pub use settings::{JWKS_MAX_AGE, KeyPolicy, Lifetimes, SecretSource, Settings};
pub use tls::{ProxySettings, TlsArgs, TlsSettings, TransportSettings};

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

    /// Accept authorization requests only as pushed authorization requests (RFC 9126 §5): `/authorize`
    /// then needs a `request_uri` from `/par`.
    #[arg(
        long,
        env = "LATCHKEY_REQUIRE_PAR",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub require_par: bool,

    /// Require two factors (a password and a TOTP code) for every sign-in that issues a code or
    /// approves a device: a user without a second factor enrols one right after the password.
    #[arg(
        long,
        env = "LATCHKEY_REQUIRE_MFA",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub require_mfa: bool,

    /// Require a server nonce in every DPoP proof at `/token`, `/par` and `/userinfo` (RFC 9449 §8,
    /// §9): a proof without a current one is answered `use_dpop_nonce` with a `DPoP-Nonce` header.
    #[arg(
        long,
        env = "LATCHKEY_DPOP_NONCE",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub dpop_nonce: bool,

    /// Fetch `private_key_jwt` clients' `jwks_uri` over plain http too (for tests on loopback; never
    /// in production: the keys would cross the network unauthenticated).
    #[arg(
        long,
        env = "LATCHKEY_ALLOW_HTTP_JWKS_URI",
        default_value_t = false,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub allow_http_jwks_uri: bool,

    /// Dynamic client registration (RFC 7591) at `/register`: `off` (no endpoint), `token` (an
    /// initial access token from `latchkey registration-token create` is required) or `open` (anyone
    /// may register, rate-limited per network).
    #[arg(long, env = "LATCHKEY_REGISTRATION", default_value = "token", value_parser = ["off", "token", "open"], global = true)]
    pub registration: String,

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

    /// HTTPS and client certificates.
    #[command(flatten)]
    pub tls: TlsArgs,
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

pub(crate) const KEY_SECRET: &str = "--key-encryption-secret (LATCHKEY_KEY_ENCRYPTION_SECRET)";
pub(crate) const KEY_SECRET_FILE: &str =
    "--key-encryption-secret-file (LATCHKEY_KEY_ENCRYPTION_SECRET_FILE)";

/// The minimum length of a key-encryption secret, in characters.
pub const MIN_SECRET_LEN: usize = 32;

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
        let transport = self.tls.validate()?;
        Ok(Settings {
            transport,
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
            require_par: self.require_par,
            require_mfa: self.require_mfa,
            dpop_nonce: self.dpop_nonce,
            allow_http_jwks_uri: self.allow_http_jwks_uri,
            registration: self
                .registration
                .parse()
                .map_err(|why| ConfigError::new("--registration (LATCHKEY_REGISTRATION)", why))?,
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
