//! Grants and authorization codes: what one authorization produced, and what ties its tokens together.

use super::scope::ScopeSet;
use super::secret::TokenHash;

/// The prefix of the ids of grants made by a user's authorization (client-credentials grant ids
/// start with `cc_`), so the two kinds can never be confused.
pub const USER_GRANT_PREFIX: &str = "gr_";

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

/// The prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "lk_rt_";

/// A new refresh token to store (only its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// The grant it belongs to.
    pub grant_id: String,
    /// Its scope: always the grant's (RFC 6749 §6: a rotated token keeps the original scope).
    pub scope: ScopeSet,
    /// Issued.
    pub created_at: i64,
    /// Expires.
    pub expires_at: i64,
}

/// A stored refresh token with what is needed to judge it: its grant, client and user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenState {
    /// The grant.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user, if any.
    pub user_id: Option<String>,
    /// Its scope.
    pub scope: ScopeSet,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// Issued.
    pub created_at: i64,
    /// Expires.
    pub expires_at: i64,
    /// When it was rotated (spent), if it was.
    pub rotated_at: Option<i64>,
    /// Whether its grant has been revoked.
    pub grant_revoked: bool,
}

/// The outcome of presenting a refresh token for rotation (RFC 9700 §4.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; it is now spent and the new token stored.
    Rotated,
    /// The token was spent moments ago (within the grace window) and its successor never used: the
    /// successor is retired and the new token replaces it, so there is still exactly one live token.
    Reissued,
    /// A spent token came back outside the grace window: the whole grant has been revoked.
    Reused,
    /// Unknown, expired, or lost a race inside the grace window: refused, nothing revoked.
    Refused,
}

/// What a housekeeping pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Housekeeping {
    /// Expired authorization codes.
    pub authorization_codes: u64,
    /// Expired refresh tokens, and spent ones past the reuse-detection horizon.
    pub refresh_tokens: u64,
    /// Revocation records whose tokens have all expired.
    pub revocations: u64,
    /// Expired grants with no refresh token left.
    pub grants: u64,
    /// Expired browser sessions.
    pub sessions: u64,
    /// Sign-in attempt counters whose window has ended.
    pub sign_in_attempts: u64,
}
