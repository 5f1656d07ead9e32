//! Initial access tokens of dynamic client registration (RFC 7591 §3): created by an operator, shown
//! once, stored only as SHA-256 hashes; listed and revoked by id. Shared by the CLI and the admin API.

use serde::Serialize;

use super::AdminError;
use crate::domain::registration::{INITIAL_ACCESS_TOKEN_PREFIX, RegistrationToken};
use crate::domain::secret::{TokenHash, random_string, random_token};
use crate::store::Store;

/// An initial access token as the CLI prints it and the admin API answers: never its value.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = RegistrationToken)]
pub struct RegistrationTokenView<'a> {
    /// Its id, for `registration-token revoke`.
    token_id: &'a str,
    /// When it was created (seconds since the epoch).
    created_at: i64,
    /// When it stops working (seconds since the epoch); absent: never.
    expires_at: Option<i64>,
    /// How many clients it may register; absent: any number.
    max_uses: Option<u32>,
    /// How many clients it has registered.
    uses: u32,
}

impl<'a> From<&'a RegistrationToken> for RegistrationTokenView<'a> {
    fn from(token: &'a RegistrationToken) -> Self {
        Self {
            token_id: &token.token_id,
            created_at: token.created_at,
            expires_at: token.expires_at,
            max_uses: token.max_uses,
            uses: token.uses,
        }
    }
}

/// A new initial access token: what the store keeps, and the value, shown once.
#[derive(Debug)]
pub struct Created {
    /// The token as stored.
    pub token: RegistrationToken,
    /// Its value (`lk_iat_…`, 256 random bits), to hand to whoever registers clients.
    pub value: String,
}

/// RFC 7591 §3: create an initial access token, valid for `expires_in` seconds (`None`: until
/// revoked) and for `max_uses` registrations (`None`: any number).
pub async fn create(
    store: &dyn Store,
    expires_in: Option<i64>,
    max_uses: Option<u32>,
    now: i64,
) -> Result<Created, AdminError> {
    if expires_in.is_some_and(|seconds| seconds <= 0) {
        return Err(AdminError::Invalid("--expires must be positive".into()));
    }
    if max_uses == Some(0) {
        return Err(AdminError::Invalid("--max-uses must be at least 1".into()));
    }
    let token_id = loop {
        // An id never starts with `-`, so it can be given to the CLI as a plain argument.
        let id = random_string(9);
        if !id.starts_with('-') {
            break id;
        }
    };
    let token = RegistrationToken {
        token_id,
        created_at: now,
        expires_at: expires_in.map(|seconds| now.saturating_add(seconds)),
        max_uses,
        uses: 0,
    };
    let value = random_token(INITIAL_ACCESS_TOKEN_PREFIX);
    store
        .create_registration_token(&token, &TokenHash::of(&value))
        .await?;
    Ok(Created { token, value })
}

/// Revoke (delete) the initial access token `token_id`: it registers nothing more. The clients it
/// registered stay.
pub async fn revoke(store: &dyn Store, token_id: &str) -> Result<(), AdminError> {
    if !store.delete_registration_token(token_id).await? {
        return Err(AdminError::NotFound(format!(
            "no registration token with id '{token_id}'"
        )));
    }
    Ok(())
}
