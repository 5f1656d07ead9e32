//! Signing keys as operators see them (never a private key), for the CLI and the admin API.

use serde::Serialize;

use crate::store::{KeyState, SigningKeyRecord};

/// A signing key as `keys list --json` prints it and the admin API answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Key)]
pub struct KeyView<'a> {
    /// Its `kid`.
    pub kid: &'a str,
    /// Its algorithm.
    pub alg: &'a str,
    /// `next`, `active` or `retired`.
    pub state: &'a str,
    /// When it was created (seconds since the epoch).
    created_at: i64,
    /// When it began to sign.
    activated_at: Option<i64>,
    /// When it stopped signing.
    retired_at: Option<i64>,
    /// When a retired key leaves the JWKS.
    published_until: Option<i64>,
    /// When it was created (for the text listing).
    #[serde(skip)]
    pub created: i64,
}

/// The views of `keys`, a retired key published `retention` seconds after its retirement.
pub fn views(keys: &[SigningKeyRecord], retention: i64) -> Vec<KeyView<'_>> {
    keys.iter()
        .map(|k| KeyView {
            kid: &k.kid,
            alg: &k.alg,
            state: k.state.as_str(),
            created_at: k.created_at,
            activated_at: k.activated_at,
            retired_at: k.retired_at,
            published_until: (k.state == KeyState::Retired)
                .then(|| k.retired_at.map(|at| at.saturating_add(retention)))
                .flatten(),
            created: k.created_at,
        })
        .collect()
}
