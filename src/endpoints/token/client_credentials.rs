//! `grant_type=client_credentials` (RFC 6749 §4.4): a service's own token, `sub` = its client id.
//!
//! The hot path of a microservice system, so it does no store write: the grant is not recorded
//! (its id is minted into the token's `gid`), and revoking such a token writes a revocation record
//! keyed by `jti` or `gid` that introspection checks. Client authentication already cost one read
//! and a SHA-256.

use std::collections::HashMap;

use super::{Issuance, TokenResponse, issue};
use crate::domain::client::Client;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::random_string;
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// The prefix of client-credentials grant ids (they are not stored).
pub const CC_GRANT_PREFIX: &str = "cc_";

/// Scopes that mean nothing without a user and are never part of a default client-credentials scope.
const USER_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Issue an access token to the authenticated `client` for itself.
pub fn issue_to(
    state: &AppState,
    client: &Client,
    params: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    // RFC 6749 §4.4: confidential clients only.
    if !client.auth_method.is_confidential() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "a public client cannot use client_credentials",
        ));
    }
    let scope = match params.get("scope").filter(|s| !s.is_empty()) {
        Some(raw) => {
            let requested = ScopeSet::parse(raw)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
            // RFC 6749 §3.3: only scopes the client is allowed.
            if !requested.is_subset(&client.scopes) {
                let extra: Vec<&str> = requested.difference(&client.scopes).collect();
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("the client may not request: {}", extra.join(" ")),
                ));
            }
            requested
        }
        // RFC 6749 §3.3: no scope → the client's default (its allowed service scopes).
        None => client
            .scopes
            .iter()
            .filter(|s| !USER_SCOPES.contains(s))
            .map(str::to_owned)
            .collect(),
    };
    let grant_id = format!("{CC_GRANT_PREFIX}{}", random_string(16));
    issue(
        state,
        Issuance {
            client,
            subject: client.client_id.as_str(),
            scope: &scope,
            grant_id: &grant_id,
            auth_time: None,
            id_token_for: None,
            refresh_token: None,
        },
        state.clock.now(),
    )
}
