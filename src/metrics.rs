//! Prometheus metrics (`GET /metrics`, the Prometheus text format 0.0.4), through the Prometheus
//! project's own Rust client, `prometheus-client`.
//!
//! Every label value comes from a closed set: route templates (never raw paths), a handful of
//! methods, status classes, grant types, algorithms, sign-in outcomes, store error kinds and table
//! names. Client ids, usernames and paths never become labels, so a scan of random URLs cannot grow
//! the number of series.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::alg::SigningAlg;
use crate::domain::grant::Housekeeping;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The label of a request whose path matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant_type: &'static str,
    alg: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlgLabels {
    alg: &'static str,
}

/// How a sign-in ended, for `latchkey_sign_ins_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Signed in.
    Success,
    /// An unknown username or a wrong password (never told apart).
    WrongPassword,
    /// The right password for a disabled account.
    Disabled,
    /// Refused by the throttle before any password was checked.
    Throttled,
    /// Every argon2 worker and queue slot was taken.
    Busy,
}

impl SignInOutcome {
    const ALL: [Self; 5] = [
        Self::Success,
        Self::WrongPassword,
        Self::Disabled,
        Self::Throttled,
        Self::Busy,
    ];

    /// Its label value (also the audit trail's `outcome`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::WrongPassword => "wrong_password",
            Self::Disabled => "disabled",
            Self::Throttled => "throttled",
            Self::Busy => "busy",
        }
    }
}

/// How one attempt to deliver a logout token ended, for
/// `latchkey_backchannel_logouts_total{outcome}` (OIDC Back-Channel Logout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The client answered 2xx.
    Delivered,
    /// It failed; it will be tried again.
    Retrying,
    /// It failed for the last time; given up.
    Abandoned,
}

impl LogoutOutcome {
    const ALL: [Self; 3] = [Self::Delivered, Self::Retrying, Self::Abandoned];

    /// Its label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Abandoned => "abandoned",
        }
    }
}

/// What an access token was issued as, for `latchkey_tokens_issued_total{alg}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuedAs {
    /// A JWT signed with this algorithm.
    Jwt(SigningAlg),
    /// A reference token (`lk_at_…`), readable only through introspection.
    Reference,
}

impl IssuedAs {
    /// Its label value: the algorithm, or `reference`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Jwt(alg) => alg.as_str(),
            Self::Reference => "reference",
        }
    }
}

/// What the scrape reads at that moment rather than counts as it happens.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Password verifications waiting for an argon2 worker.
    pub argon2_queue_depth: usize,
    /// Store connections: open, idle, and the pool's maximum.
    pub store_pool: crate::store::PoolStatus,
    /// Store errors since the process started, by kind (`unavailable`, `rejected`, `internal`).
    pub store_errors: Vec<(&'static str, u64)>,
    /// For each algorithm, the seconds since its active signing key was activated.
    pub key_ages: Vec<(SigningAlg, i64)>,
    /// Audit events of token issuance dropped because the writer's queue was full.
    pub audit_dropped: u64,
    /// Revoked `jti`s and grant ids held by the revocation cache.
    pub revocation_cache_entries: usize,
    /// Seconds since the revocation cache's last successful catch-up started (`None`: never).
    pub revocation_cache_age: Option<f64>,
    /// Revocation checks answered by the store because the cache was stale.
    pub revocation_cache_fallbacks: u64,
}

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    sign_ins: Family<OutcomeLabels, Counter>,
    logouts: Family<OutcomeLabels, Counter>,
    housekeeping: Family<TableLabels, Counter>,
    argon2_queue: Gauge,
    store_connections: Family<StateLabels, Gauge>,
    store_errors: Family<KindLabels, Counter>,
    key_age: Family<AlgLabels, Gauge>,
    audit_dropped: Counter,
    revocation_entries: Gauge,
    revocation_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    revocation_fallbacks: Counter,
    /// Route templates seen, kept for the life of the process so that counting a request allocates
    /// nothing. The set is the route table's (plus [`UNMATCHED_ROUTE`]), so it stays small.
    routes: RwLock<HashSet<&'static str>>,
}

/// The tables housekeeping deletes from, in the order of [`Metrics::housekeeping`]'s counts.
const HOUSEKEEPING_TABLES: [&str; 17] = [
    "authorization_codes",
    "refresh_tokens",
    "revocations",
    "grants",
    "sessions",
    "reference_tokens",
    "sign_in_attempts",
    "pushed_requests",
    "client_assertions",
    "device_authorizations",
    "registration_tokens",
    "dpop_proofs",
    "passkey_ceremonies",
    "session_clients",
    "logout_deliveries",
    "signing_keys",
    "audit_events",
];

/// Request latency buckets: 0.5 ms to about 4 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status class",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template and status class",
            latency.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Access tokens issued, by grant type and signing algorithm (reference: opaque tokens)",
            tokens.clone(),
        );
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        registry.register("sign_ins", "Password sign-ins by outcome", sign_ins.clone());
        let logouts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "backchannel_logouts",
            "Attempts to deliver a back-channel logout token, by outcome",
            logouts.clone(),
        );
        let housekeeping = Family::<TableLabels, Counter>::default();
        registry.register(
            "housekeeping_deleted_rows",
            "Rows deleted by the background housekeeping, by table",
            housekeeping.clone(),
        );
        let argon2_queue = Gauge::default();
        registry.register(
            "argon2_queue_depth",
            "Password verifications waiting for an argon2 worker",
            argon2_queue.clone(),
        );
        let store_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "store_connections",
            "Database connections: in_use, idle, and max (the pool's size limit)",
            store_connections.clone(),
        );
        let store_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Database errors by kind: unavailable (503), rejected (the value's fault), internal (500)",
            store_errors.clone(),
        );
        let key_age = Family::<AlgLabels, Gauge>::default();
        registry.register(
            "signing_key_age_seconds",
            "Seconds since the active signing key of each algorithm was activated",
            key_age.clone(),
        );
        let audit_dropped = Counter::default();
        registry.register(
            "audit_events_dropped",
            "Token-issuance audit events dropped because the batch writer's queue was full",
            audit_dropped.clone(),
        );
        let revocation_entries = Gauge::default();
        registry.register(
            "revocation_cache_entries",
            "Revoked access-token jtis and grant ids held in memory by this instance",
            revocation_entries.clone(),
        );
        let revocation_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "revocation_cache_age_seconds",
            "Seconds since the last successful revocation catch-up started (past 1 s, revocation \
             checks go to the store)",
            revocation_age.clone(),
        );
        let revocation_fallbacks = Counter::default();
        registry.register(
            "revocation_cache_fallbacks",
            "Revocation checks answered by the store because the in-memory copy was stale",
            revocation_fallbacks.clone(),
        );
        // Every outcome and table from the start, at zero, so dashboards and rate() see them before
        // the first event.
        for outcome in SignInOutcome::ALL {
            sign_ins
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.label(),
                })
                .inc_by(0);
        }
        for outcome in LogoutOutcome::ALL {
            logouts
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.label(),
                })
                .inc_by(0);
        }
        for table in HOUSEKEEPING_TABLES {
            housekeeping.get_or_create(&TableLabels { table }).inc_by(0);
        }
        Self {
            registry,
            requests,
            latency,
            tokens,
            sign_ins,
            logouts,
            housekeeping,
            argon2_queue,
            store_connections,
            store_errors,
            key_age,
            audit_dropped,
            revocation_entries,
            revocation_age,
            revocation_fallbacks,
            routes: RwLock::new(HashSet::from([UNMATCHED_ROUTE])),
        }
    }

    /// `route` as a `'static` label value: the one kept from its first request.
    fn route_label(&self, route: &str) -> &'static str {
        let known = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .copied();
        if let Some(known) = known {
            return known;
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = routes.get(route) {
            return known;
        }
        let kept: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.insert(kept);
        kept
    }

    /// Count one HTTP request. `route` is the matched route template (from the route table, so a
    /// closed set), or [`UNMATCHED_ROUTE`].
    pub fn request(&self, route: &str, method: &axum::http::Method, status: u16, took: Duration) {
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let method = match method.as_str() {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            _ => "other",
        };
        let route = self.route_label(route);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels { route, status })
            .observe(took.as_secs_f64());
    }

    /// Count an access token issued by `grant_type` (its RFC 6749 / RFC 8693 name).
    pub fn token_issued(&self, grant_type: &'static str, issued_as: IssuedAs) {
        self.tokens
            .get_or_create(&TokenLabels {
                grant_type,
                alg: issued_as.label(),
            })
            .inc();
    }

    /// Count a password sign-in.
    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
    }

    /// Count an attempt to deliver a logout token.
    pub fn logout_delivery(&self, outcome: LogoutOutcome) {
        self.logouts
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
    }

    /// Count what one housekeeping pass deleted.
    pub fn housekeeping(&self, done: &Housekeeping) {
        let rows = [
            done.authorization_codes,
            done.refresh_tokens,
            done.revocations,
            done.grants,
            done.sessions,
            done.reference_tokens,
            done.sign_in_attempts,
            done.pushed_requests,
            done.client_assertions,
            done.device_authorizations,
            done.registration_tokens,
            done.dpop_proofs,
            done.passkey_ceremonies,
            done.session_clients,
            done.logout_deliveries,
            done.signing_keys,
            done.audit_events,
        ];
        for (table, rows) in HOUSEKEEPING_TABLES.into_iter().zip(rows) {
            self.housekeeping
                .get_or_create(&TableLabels { table })
                .inc_by(rows);
        }
    }

    /// The exposition: the counters as they stand, and the gauges set from `now`'s `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        self.argon2_queue
            .set(i64::try_from(snapshot.argon2_queue_depth).unwrap_or(i64::MAX));
        let pool = &snapshot.store_pool;
        for (state, value) in [
            ("in_use", pool.size.saturating_sub(pool.idle)),
            ("idle", pool.idle),
            ("max", pool.max),
        ] {
            self.store_connections
                .get_or_create(&StateLabels { state })
                .set(i64::from(value));
        }
        // The store counts its errors process-wide; the counter shows that running total.
        for (kind, total) in &snapshot.store_errors {
            self.store_errors
                .get_or_create(&KindLabels { kind })
                .inner()
                .store(*total, Ordering::Relaxed);
        }
        self.audit_dropped
            .inner()
            .store(snapshot.audit_dropped, Ordering::Relaxed);
        self.revocation_entries
            .set(i64::try_from(snapshot.revocation_cache_entries).unwrap_or(i64::MAX));
        // Never caught up: reported as infinitely old, which any staleness alert catches.
        self.revocation_age
            .set(snapshot.revocation_cache_age.unwrap_or(f64::INFINITY));
        self.revocation_fallbacks
            .inner()
            .store(snapshot.revocation_cache_fallbacks, Ordering::Relaxed);
        for (alg, age) in &snapshot.key_ages {
            self.key_age
                .get_or_create(&AlgLabels { alg: alg.as_str() })
                .set(*age);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_the_text_format_is_prometheus() {
        let metrics = Metrics::new();
        for n in 0..50 {
            let method = axum::http::Method::from_bytes(format!("X{n}").as_bytes()).unwrap();
            metrics.request(UNMATCHED_ROUTE, &method, 404, Duration::from_millis(1));
        }
        metrics.token_issued("client_credentials", IssuedAs::Jwt(SigningAlg::ES256));
        metrics.token_issued("client_credentials", IssuedAs::Reference);
        metrics.sign_in(SignInOutcome::Throttled);
        let text = metrics.render(&Snapshot::default());
        assert!(text.contains(
            "latchkey_http_requests_total{route=\"unmatched\",method=\"other\",status=\"4xx\"} 50"
        ));
        assert!(text.contains(
            "latchkey_tokens_issued_total{grant_type=\"client_credentials\",alg=\"ES256\"} 1"
        ));
        assert!(text.contains(
            "latchkey_tokens_issued_total{grant_type=\"client_credentials\",alg=\"reference\"} 1"
        ));
        assert!(text.contains("latchkey_sign_ins_total{outcome=\"throttled\"} 1"));
        assert!(text.contains("# TYPE latchkey_http_request_duration_seconds histogram"));
    }
}
