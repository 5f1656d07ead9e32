//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

use std::sync::Arc;

use super::Context;
use crate::domain::client::{AuthMethod, Client, ClientId};
use crate::error::OAuthError;

/// The credentials a client presented, as the edge found them (the id already parsed).
#[derive(Debug)]
pub enum Presented {
    /// RFC 6749 §2.3.1 HTTP Basic.
    Basic {
        /// The client id.
        client_id: ClientId,
        /// The secret (never logged).
        secret: String,
    },
    /// RFC 6749 §2.3.1 `client_id` and `client_secret` in the body.
    Post {
        /// The client id.
        client_id: ClientId,
        /// The secret (never logged).
        secret: String,
    },
    /// A public client: `client_id` alone (RFC 6749 §2.1, §3.2.1).
    None {
        /// The client id.
        client_id: ClientId,
    },
}

fn bad_client(description: &str) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// The answer to a malformed or unknown client id: the same as for a wrong secret, so it reveals nothing.
pub fn unknown_client() -> OAuthError {
    bad_client("unknown client or wrong credentials")
}

/// Authenticate the client: `client_secret_basic`, `client_secret_post` (secrets compared as SHA-256
/// in constant time), or `none` for public clients. The method used must be the one the client is
/// registered for (RFC 7591 §2 `token_endpoint_auth_method`).
pub async fn authenticate(
    ctx: &Context<'_>,
    presented: Presented,
) -> Result<Arc<Client>, OAuthError> {
    let (client_id, secret, method) = match &presented {
        Presented::Basic { client_id, secret } => {
            (client_id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        Presented::Post { client_id, secret } => {
            (client_id, Some(secret), AuthMethod::ClientSecretPost)
        }
        Presented::None { client_id } => (client_id, None, AuthMethod::None),
    };
    let client = ctx
        .clients
        .find(ctx.store, client_id, ctx.now)
        .await?
        .ok_or_else(unknown_client)?;
    match secret {
        Some(secret) if !client.secret_matches(secret) => return Err(unknown_client()),
        None if client.auth_method.is_confidential() => {
            return Err(bad_client("this client must authenticate with its secret"));
        }
        _ => {}
    }
    if client.auth_method != method {
        return Err(bad_client(&format!(
            "this client is registered for {}",
            client.auth_method.as_str()
        )));
    }
    Ok(client)
}
