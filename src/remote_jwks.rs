//! The public keys `private_key_jwt` clients publish at their `jwks_uri` (RFC 7591 §2, OIDC Core
//! §10.1.1): fetched over https (http only with `--allow-http-jwks-uri`, for tests on loopback), with
//! a timeout and a size limit, and cached, so that client authentication does not fetch on every
//! request. A key id the cached set lacks (the client rotated its key) fetches again, at most once
//! every [`REFETCH_AFTER`] seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

use crate::domain::client::check_jwks;

/// How long a fetched key set is used without fetching again.
pub const CACHE_SECONDS: i64 = 300;

/// How soon after a fetch an unknown key id may fetch again: a stream of assertions naming a
/// made-up kid cannot turn into a stream of fetches.
pub const REFETCH_AFTER: i64 = 30;

/// The most read of one key set.
const MAX_BYTES: usize = 64 * 1024;

/// How long a fetch may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The most key sets kept: one per client using a `jwks_uri`; beyond it the oldest go.
const MAX_ENTRIES: usize = 10_000;

/// Why a key set could not be had.
#[derive(Debug)]
pub enum FetchError {
    /// The URI is not one this server fetches (not https, without `--allow-http-jwks-uri`): the
    /// client's registration is at fault, and may be told so.
    Refused(String),
    /// The fetch failed or the answer was not a usable key set. The detail is for the log only:
    /// told to the caller, it would let anyone who can register a client probe what answers where
    /// this server can reach.
    Failed(String),
}

struct Cached {
    keys: Arc<JwkSet>,
    fetched_at: i64,
}

/// Fetched key sets by URI.
pub struct RemoteJwks {
    http: reqwest::Client,
    allow_http: bool,
    cache: Mutex<HashMap<String, Cached>>,
}

impl RemoteJwks {
    /// A fetcher trusting the Mozilla roots (webpki-roots) over TLS through aws-lc-rs; no
    /// redirects are followed.
    pub fn new(allow_http: bool) -> Result<Self, String> {
        let http = crate::http_client::builder()
            .map_err(|err| format!("cannot set up TLS for jwks_uri: {err}"))?
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot set up the HTTP client for jwks_uri: {err}"))?;
        Ok(Self {
            http,
            allow_http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The key set at `uri`: cached for [`CACHE_SECONDS`], or fetched again when `stale_kid` (a
    /// key id the cached set lacks) and the last fetch is [`REFETCH_AFTER`] seconds old.
    pub async fn get(
        &self,
        uri: &str,
        now: i64,
        stale_kid: bool,
    ) -> Result<Arc<JwkSet>, FetchError> {
        if let Some(cached) = self.cached(uri) {
            let age = now - cached.1;
            if age < CACHE_SECONDS && !(stale_kid && age >= REFETCH_AFTER) {
                return Ok(cached.0);
            }
        }
        let keys = Arc::new(self.fetch(uri).await?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES
                && let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, c)| c.fetched_at)
                    .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
            cache.insert(
                uri.to_owned(),
                Cached {
                    keys: Arc::clone(&keys),
                    fetched_at: now,
                },
            );
        }
        Ok(keys)
    }

    fn cached(&self, uri: &str) -> Option<(Arc<JwkSet>, i64)> {
        let cache = self.cache.lock().ok()?;
        cache.get(uri).map(|c| (Arc::clone(&c.keys), c.fetched_at))
    }

    async fn fetch(&self, uri: &str) -> Result<JwkSet, FetchError> {
        let url = url::Url::parse(uri)
            .map_err(|_| FetchError::Refused("the jwks_uri is not a URL".to_owned()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(FetchError::Refused("the jwks_uri must be https".to_owned())),
        }
        self.download(url).await.map_err(FetchError::Failed)
    }

    async fn download(&self, url: url::Url) -> Result<JwkSet, String> {
        let mut response = self
            .http
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|err| format!("the jwks_uri could not be fetched ({err})"))?;
        if !response.status().is_success() {
            return Err(format!("the jwks_uri answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| format!("the jwks_uri could not be read ({err})"))?
        {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(format!(
                    "the jwks_uri answered more than {} KiB",
                    MAX_BYTES / 1024
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let text =
            String::from_utf8(body).map_err(|_| "the jwks_uri answered no text".to_owned())?;
        let checked = check_jwks(&text).map_err(|err| format!("at the jwks_uri, {}", err.0))?;
        serde_json::from_str(&checked)
            .map_err(|_| "the jwks_uri's key set is unreadable".to_owned())
    }
}
