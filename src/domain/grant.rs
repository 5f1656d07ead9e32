//! Grants and authorization codes: what one authorization produced, and what ties its tokens together.

use super::scope::ScopeSet;
use super::secret::TokenHash;

/// The prefix of authorization codes (DESIGN.md "Tokens": readable prefixes).
pub const CODE_PREFIX: &str = "lk_ac_";

/// An issued authorization code (RFC 6749 §4.1.2), stored only by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: TokenHash,
    /// The grant the code's tokens will belong to.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The signed-in user.
    pub user_id: String,
    /// The redirect URI of the authorization request (RFC 6749 §4.1.3 requires the same at the token endpoint).
    pub redirect_uri: String,
    /// The granted scope.
    pub scope: ScopeSet,
    /// OIDC Core §3.1.2.1 `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// RFC 7636 S256 `code_challenge`.
    pub code_challenge: Option<String>,
    /// When the user authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: i64,
    /// Issued.
    pub created_at: i64,
    /// Expires (60 s after issue).
    pub expires_at: i64,
    /// When it was redeemed, if it was.
    pub consumed_at: Option<i64>,
}

/// Everything issued from one authorization (DESIGN.md "Tokens": revoking it revokes all its tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Identifier, carried in access tokens as `gid`.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The user, for user grants; `None` for client credentials.
    pub user_id: Option<String>,
    /// Granted scope.
    pub scope: ScopeSet,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// When the last token it can produce expires.
    pub expires_at: i64,
    /// Revoked.
    pub revoked_at: Option<i64>,
}

/// The outcome of presenting an authorization code for redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// This request consumed the code; the grant was recorded in the same transaction.
    Redeemed,
    /// The code had already been consumed (a replay, or a concurrent loser).
    AlreadyUsed,
}
