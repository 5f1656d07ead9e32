//! What a component learns from Latchkey: the discovery document (OIDC Discovery 1.0 §4), the signing
//! keys (RFC 7517 JWKS, cached and refetched on an unknown `kid`), and local verification of its JWTs
//! (RFC 9068 §4 access tokens, OIDC Core §3.1.3.7 ID tokens).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::pki::Identity;
use super::{ClientCredentials, DemoError, Trust};

/// A cached JWKS older than this is refetched before use. Latchkey publishes its next key ahead of a
/// rotation, so a cache refreshed this often normally knows a new `kid` before the first token signed
/// with it arrives; the refetch on an unknown `kid` covers the rest.
const JWKS_MAX_AGE: Duration = Duration::from_secs(300);
/// At most this many JWKS fetches in any [`FETCH_WINDOW`], so tokens with made-up `kid`s cannot turn
/// the gateway into a flood against Latchkey.
const MAX_FETCHES_PER_WINDOW: usize = 5;
/// See [`MAX_FETCHES_PER_WINDOW`].
const FETCH_WINDOW: Duration = Duration::from_secs(60);
/// Tolerated clock difference between Latchkey and this component when checking `exp`.
const LEEWAY_SECONDS: i64 = 5;
/// Longer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The provider metadata fields the demo uses (OIDC Discovery 1.0 §3, RFC 8414 §2).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// Must equal the configured issuer exactly (OIDC Discovery §4.3).
    pub issuer: String,
    /// RFC 6749 §3.1.
    pub authorization_endpoint: String,
    /// RFC 6749 §3.2.
    pub token_endpoint: String,
    /// RFC 7517.
    pub jwks_uri: String,
    /// RFC 7662.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// RFC 7009.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// OIDC RP-Initiated Logout 1.0 §2.1.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// Latchkey as one component sees it: its metadata, its keys, and an HTTP client to reach it.
pub struct Provider {
    /// The discovered metadata.
    pub metadata: Metadata,
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The cached signing keys.
    pub jwks: JwksCache,
    trust: Trust,
}

impl Provider {
    /// Fetch `{issuer}/.well-known/openid-configuration` and check it describes `trust.issuer`.
    pub async fn discover(trust: &Trust) -> Result<Arc<Self>, DemoError> {
        Self::discover_as(trust, None).await
    }

    /// [`Self::discover`], for a component whose HTTP client presents the client certificate
    /// `identity` to every server that asks for one (Latchkey with `--mtls-ca`, Service D).
    pub async fn discover_as(
        trust: &Trust,
        identity: Option<&Identity>,
    ) -> Result<Arc<Self>, DemoError> {
        let http = super::http_client(trust, identity)?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            trust.issuer.trim_end_matches('/')
        );
        let response = http.get(&url).send().await.map_err(|err| {
            DemoError::Discovery(format!("cannot reach {url}: {err} (is Latchkey running?)"))
        })?;
        if !response.status().is_success() {
            return Err(DemoError::Discovery(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        let metadata: Metadata = response
            .json()
            .await
            .map_err(|err| DemoError::Discovery(format!("{url}: {err}")))?;
        if metadata.issuer != trust.issuer {
            return Err(DemoError::Discovery(format!(
                "{url} describes issuer {:?}, not {:?}",
                metadata.issuer, trust.issuer
            )));
        }
        let jwks = JwksCache::new(metadata.jwks_uri.clone(), http.clone());
        Ok(Arc::new(Self {
            metadata,
            http,
            jwks,
            trust: trust.clone(),
        }))
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> i64 {
        (self.trust.clock)()
    }

    /// Verify an RFC 9068 access token for the API `audience`: signature by a published key,
    /// `typ: at+jwt`, `iss`, `aud` (RFC 9068 §4: a resource server accepts only tokens meant for it),
    /// `exp`.
    pub async fn verify_access_token(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<AccessClaims, Rejected> {
        self.verify(token, &["at+jwt"], audience).await
    }

    /// Verify an ID token (OIDC Core §3.1.3.7): signature, `typ: JWT`, `iss`, `aud` = our client, `exp`,
    /// and the `nonce` of our authorization request.
    pub async fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<IdClaims, Rejected> {
        let claims: IdClaims = self.verify(token, &["JWT"], client_id).await?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(Rejected::Invalid("the ID token's nonce does not match"));
        }
        Ok(claims)
    }

    /// Verify a logout token (OIDC Back-Channel Logout §2.6): signature, `typ: logout+jwt`, `iss`,
    /// `aud` = our client, `exp`, the back-channel logout event, `sid` (this client registered
    /// `backchannel_logout_session_required`), and no `nonce`.
    pub async fn verify_logout_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<LogoutClaims, Rejected> {
        let claims: LogoutClaims = self.verify(token, &["logout+jwt"], client_id).await?;
        if !claims
            .events
            .contains_key("http://schemas.openid.net/event/backchannel-logout")
        {
            return Err(Rejected::Invalid("not a back-channel logout event"));
        }
        if claims.nonce.is_some() || claims.sid.is_none() {
            return Err(Rejected::Invalid("a logout token has a sid and no nonce"));
        }
        Ok(claims)
    }

    async fn verify<T: DeserializeOwned + Expiring>(
        &self,
        token: &str,
        types: &[&str],
        audience: &str,
    ) -> Result<T, Rejected> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejected::Invalid("the token is too long"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Rejected::Invalid("the token is not a JWT"))?;
        // RFC 7515 §4.1.9: `typ` is compared case-insensitively, and `application/` may be omitted.
        let typ = header
            .typ
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        if !types.iter().any(|t| t.eq_ignore_ascii_case(typ)) {
            return Err(Rejected::Invalid("the token has the wrong type"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(Rejected::Invalid("the token names no signing key"))?;
        let key = self.jwks.key(kid).await.ok_or(Rejected::Invalid(
            "the token's signing key is not published",
        ))?;
        // The key decides the algorithm, never the token (no `none`, no HS256 with a public key).
        if header.alg != key.alg {
            return Err(Rejected::Invalid(
                "the token's algorithm is not its key's algorithm",
            ));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[self.trust.issuer.as_str()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        // `exp` is checked below against the injected clock.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<T>(token, &key.key, &validation)
            .map_err(|err| {
                use jsonwebtoken::errors::ErrorKind;
                match err.kind() {
                    ErrorKind::InvalidIssuer => Rejected::Invalid("the token has another issuer"),
                    ErrorKind::InvalidAudience => {
                        Rejected::Invalid("the token is not meant for this audience")
                    }
                    ErrorKind::InvalidSignature => Rejected::Invalid("the signature is invalid"),
                    _ => Rejected::Invalid("the token is malformed"),
                }
            })?
            .claims;
        if claims.exp() + LEEWAY_SECONDS <= self.now() {
            return Err(Rejected::Expired);
        }
        Ok(claims)
    }

    /// `POST` a form to a Latchkey endpoint as the client `credentials` and read the JSON answer. An
    /// OAuth error answer (RFC 6749 §5.2, a 4xx) becomes [`DemoError::Refused`].
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        credentials: &ClientCredentials,
        form: &[(&str, &str)],
    ) -> Result<T, DemoError> {
        Ok(self.post(endpoint, credentials, form).await?.json().await?)
    }

    /// [`Self::post_form`] with a DPoP proof (RFC 9449 §5), when there is one: the tokens in the
    /// answer are then bound to the proof's key.
    pub async fn post_form_with_proof<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        credentials: &ClientCredentials,
        form: &[(&str, &str)],
        dpop_proof: Option<&str>,
    ) -> Result<T, DemoError> {
        Ok(self
            .post_with_proof(endpoint, credentials, form, dpop_proof)
            .await?
            .json()
            .await?)
    }

    /// `POST` a form as the client `credentials`; a non-2xx answer is an error.
    pub async fn post(
        &self,
        endpoint: &str,
        credentials: &ClientCredentials,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, DemoError> {
        self.post_with_proof(endpoint, credentials, form, None)
            .await
    }

    async fn post_with_proof(
        &self,
        endpoint: &str,
        credentials: &ClientCredentials,
        form: &[(&str, &str)],
        dpop_proof: Option<&str>,
    ) -> Result<reqwest::Response, DemoError> {
        let mut request = self.http.post(endpoint);
        let mut form = form.to_vec();
        match &credentials.client_secret {
            // RFC 6749 §2.3.1: the id and secret are form-urlencoded before the Basic encoding.
            Some(secret) => {
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                request = request.basic_auth(
                    encode(&credentials.client_id),
                    Some(encode(secret.expose_secret())),
                );
            }
            // RFC 8705 §2: the connection's certificate authenticates; the form names the client.
            None => form.push(("client_id", &credentials.client_id)),
        }
        if let Some(proof) = dpop_proof {
            request = request.header("DPoP", proof);
        }
        let response = request.form(&form).send().await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let message = format!("{endpoint} answered {status}: {body}");
        Err(if status.is_client_error() {
            DemoError::Refused(message)
        } else {
            DemoError::Unavailable(message)
        })
    }
}

/// Why a token was refused; the text is safe to send back (RFC 6750 `error_description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Malformed, forged, unknown key, wrong type, issuer or audience.
    Invalid(&'static str),
    /// `exp` has passed.
    Expired,
}

impl Rejected {
    /// The `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Invalid(why) => why,
            Self::Expired => "the token has expired",
        }
    }
}

/// Claims with an expiry.
pub trait Expiring {
    /// `exp`.
    fn exp(&self) -> i64;
}

/// The access-token claims the demo reads (RFC 9068 §2.2).
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    /// The user, or the client itself for client credentials.
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// Expiry.
    pub exp: i64,
    /// Unique id.
    #[serde(default)]
    pub jti: String,
    /// The caller's roles (RFC 9068 §2.2.3.1): global ones and those of the token's API.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The acting party of a token obtained by token exchange (RFC 8693 §4.1): `{"sub": …}`, with
    /// earlier actors nested in it.
    #[serde(default)]
    pub act: Option<serde_json::Value>,
    /// What the token is bound to (RFC 7800 `cnf`), if anything.
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    /// How strongly the user signed in (OIDC Core §2 `acr`, RFC 9068 §2.2.1); `None` for a
    /// service's own token, which stands for no sign-in.
    #[serde(default)]
    pub acr: Option<String>,
}

/// A token's confirmation claim: the key or certificate its sender must prove it holds.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct Confirmation {
    /// RFC 8705 §3.1: SHA-256 thumbprint of the client certificate.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// RFC 9449 §6.1: RFC 7638 thumbprint of the DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

impl AccessClaims {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }

    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// RFC 9068 §2.2: a client-credentials token is about the client itself.
    pub fn is_client_credentials(&self) -> bool {
        self.sub == self.client_id
    }
}

impl Expiring for AccessClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// The ID-token claims the BFF reads (OIDC Core §2, §5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    /// The user.
    pub sub: String,
    /// Expiry.
    pub exp: i64,
    /// Echo of the authorization request's nonce.
    #[serde(default)]
    pub nonce: Option<String>,
    /// With `profile`.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// With `profile`.
    #[serde(default)]
    pub name: Option<String>,
    /// The provider's session (OIDC Back-Channel Logout §2.1): a logout token names it.
    #[serde(default)]
    pub sid: Option<String>,
}

/// The claims of a logout token (OIDC Back-Channel Logout §2.4) that the BFF acts on.
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutClaims {
    /// The user whose session ended.
    #[serde(default)]
    pub sub: Option<String>,
    /// The provider session that ended.
    #[serde(default)]
    pub sid: Option<String>,
    /// Expiry.
    pub exp: i64,
    /// Must hold the back-channel logout event.
    #[serde(default)]
    pub events: serde_json::Map<String, serde_json::Value>,
    /// Must be absent (§2.6 step 5: a logout token is never an ID token).
    #[serde(default)]
    pub nonce: Option<serde_json::Value>,
}

impl Expiring for LogoutClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

impl Expiring for IdClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// One published verification key.
pub struct PublishedKey {
    /// The algorithm the JWK declares (Latchkey always sets `alg`).
    pub alg: Algorithm,
    /// The public key.
    pub key: DecodingKey,
}

/// The JWKS, cached: refetched when older than [`JWKS_MAX_AGE`] or when a token names an unknown
/// `kid`, at most [`MAX_FETCHES_PER_WINDOW`] times per [`FETCH_WINDOW`]; concurrent misses share one fetch.
pub struct JwksCache {
    uri: String,
    http: reqwest::Client,
    cached: RwLock<Cached>,
    fetches: tokio::sync::Mutex<FetchLog>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<PublishedKey>>,
    fetched_at: Option<Instant>,
}

impl Cached {
    /// The key, if the set is fresh enough to be trusted without a refetch.
    fn fresh_key(&self, kid: &str) -> Option<Arc<PublishedKey>> {
        let fresh = self
            .fetched_at
            .is_some_and(|at| at.elapsed() < JWKS_MAX_AGE);
        fresh.then(|| self.keys.get(kid).cloned()).flatten()
    }
}

#[derive(Default)]
struct FetchLog {
    recent: VecDeque<Instant>,
    total: u64,
}

impl FetchLog {
    fn may_fetch(&mut self) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|at| at.elapsed() >= FETCH_WINDOW)
        {
            self.recent.pop_front();
        }
        self.recent.len() < MAX_FETCHES_PER_WINDOW
    }
}

impl JwksCache {
    fn new(uri: String, http: reqwest::Client) -> Self {
        Self {
            uri,
            http,
            cached: RwLock::new(Cached::default()),
            fetches: tokio::sync::Mutex::new(FetchLog::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cached.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key `kid`, fetching the JWKS first if the cache is stale or does not know it.
    pub async fn key(&self, kid: &str) -> Option<Arc<PublishedKey>> {
        if let Some(key) = self.read().fresh_key(kid) {
            return Some(key);
        }
        let mut log = self.fetches.lock().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(key) = self.read().fresh_key(kid) {
            return Some(key);
        }
        if log.may_fetch() {
            log.recent.push_back(Instant::now());
            log.total += 1;
            match self.fetch().await {
                Ok(keys) => {
                    *self.cached.write().unwrap_or_else(PoisonError::into_inner) = Cached {
                        keys,
                        fetched_at: Some(Instant::now()),
                    };
                }
                // Keep the keys we have: Latchkey briefly unreachable must not fail valid tokens.
                Err(err) => tracing::warn!(error = %err, uri = %self.uri, "JWKS fetch failed"),
            }
        }
        self.read().keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<PublishedKey>>, DemoError> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = self
            .http
            .get(&self.uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        // A key this library cannot use is skipped, not fatal: the others still verify.
        for value in set.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, &jwk.common.key_algorithm) else {
                continue;
            };
            let Ok(alg) = alg.to_string().parse::<Algorithm>() else {
                continue;
            };
            if !is_asymmetric(alg) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                keys.insert(kid.clone(), Arc::new(PublishedKey { alg, key }));
            }
        }
        tracing::debug!(uri = %self.uri, keys = keys.len(), "fetched the JWKS");
        Ok(keys)
    }

    /// How many keys are cached and how many times the JWKS has been fetched (for `/healthz`).
    pub async fn stats(&self) -> (usize, u64) {
        let total = self.fetches.lock().await.total;
        (self.read().keys.len(), total)
    }
}

fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}
