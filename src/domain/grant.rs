//! Grants and authorization codes: what one authorization produced, and what ties its tokens together.

use super::api::Audience;
use super::authn::Authentication;
use super::claims_request::ClaimsRequest;
use super::client::ClientId;
use super::scope::ScopeSet;
use super::secret::TokenHash;
use super::user::UserId;

/// The prefix of the ids of grants made by a user's authorization.
const USER_GRANT_PREFIX: &str = "gr_";
/// The prefix of client-credentials grant ids (such grants are not stored; the id lives in `gid`).
const CLIENT_GRANT_PREFIX: &str = "cc_";

/// A grant identifier (the access token's `gid`). Its kind is part of the value, so a service's own
/// token can never be taken for a user's (RFC 9068 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrantId(String);

/// Who a grant was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// A user authorized a client (authorization code; refreshes of it).
    User,
    /// A client acting for itself (RFC 6749 §4.4 client credentials).
    ClientCredentials,
}

impl GrantId {
    /// A fresh id for a grant of `kind` (128 random bits).
    pub fn generate(kind: GrantKind) -> Self {
        let prefix = match kind {
            GrantKind::User => USER_GRANT_PREFIX,
            GrantKind::ClientCredentials => CLIENT_GRANT_PREFIX,
        };
        Self(format!("{prefix}{}", super::secret::random_string(16)))
    }

    /// Wrap an id read back from the store or from a token we signed.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind of grant. Anything not minted as a client-credentials id counts as a user's grant
    /// only if it carries the user prefix; an unknown shape is neither and is refused where it matters.
    pub fn kind(&self) -> Option<GrantKind> {
        if self.0.starts_with(USER_GRANT_PREFIX) {
            Some(GrantKind::User)
        } else if self.0.starts_with(CLIENT_GRANT_PREFIX) {
            Some(GrantKind::ClientCredentials)
        } else {
            None
        }
    }

    /// Whether this grant was made by a user's authorization.
    pub fn is_user_grant(&self) -> bool {
        self.kind() == Some(GrantKind::User)
    }
}

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prefix of authorization codes (DESIGN.md "Tokens": readable prefixes).
pub const CODE_PREFIX: &str = "lk_ac_";

/// An issued authorization code (RFC 6749 §4.1.2), stored only by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: TokenHash,
    /// The grant the code's tokens will belong to.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The signed-in user.
    pub user_id: UserId,
    /// The redirect URI of the authorization request (RFC 6749 §4.1.3 requires the same at the token endpoint).
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (else it was the one registered URI):
    /// RFC 6749 §4.1.3 then requires it, identical, in the token request.
    pub redirect_uri_sent: bool,
    /// The granted scope.
    pub scope: ScopeSet,
    /// The APIs the authorization covers (RFC 8707 §2.1).
    pub resources: Vec<Audience>,
    /// OIDC Core §3.1.2.1 `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// RFC 7636 S256 `code_challenge`.
    pub code_challenge: Option<String>,
    /// When the user authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 `amr`).
    pub authentication: Authentication,
    /// OIDC Core §5.5: the claims the client asked for one by one (`claims`), if any.
    pub requested_claims: Option<ClaimsRequest>,
    /// The browser session it was issued in (OIDC Back-Channel Logout §2.1 `sid`); `None` for a
    /// session from before `sid`s existed.
    pub sid: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (`dpop_jkt`).
    pub dpop_jkt: Option<String>,
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
    pub grant_id: GrantId,
    /// The client.
    pub client_id: ClientId,
    /// The user, for user grants; `None` for client credentials.
    pub user_id: Option<UserId>,
    /// Granted scope.
    pub scope: ScopeSet,
    /// The APIs it covers (RFC 8707 §2.2: each access token is for one of them).
    pub resources: Vec<Audience>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// How the user authenticated (RFC 8176 `amr`), for user grants.
    pub authentication: Option<Authentication>,
    /// OIDC Core §5.5: the claims the client asked for one by one (`claims`), kept for refreshed
    /// ID tokens and UserInfo.
    pub requested_claims: Option<ClaimsRequest>,
    /// The browser session the user signed in with (OIDC Back-Channel Logout §2.1 `sid`), if any.
    pub sid: Option<String>,
    /// RFC 9449 §5: the DPoP key a public client's refresh tokens are bound to (its thumbprint).
    pub dpop_jkt: Option<String>,
    /// RFC 8705 §4: the certificate a public client's refresh tokens are bound to (`x5t#S256`).
    pub cert_thumbprint: Option<String>,
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
    pub grant_id: GrantId,
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
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user, if any.
    pub user_id: Option<UserId>,
    /// Its scope.
    pub scope: ScopeSet,
    /// The APIs its grant covers.
    pub resources: Vec<Audience>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// How the user authenticated (RFC 8176 `amr`), for user grants.
    pub authentication: Option<Authentication>,
    /// OIDC Core §5.5: the claims the client asked for one by one (`claims`), kept for refreshed
    /// ID tokens and UserInfo.
    pub requested_claims: Option<ClaimsRequest>,
    /// Its grant's browser session (`sid`), if any.
    pub sid: Option<String>,
    /// The DPoP key it is bound to (RFC 9449 §5), if any.
    pub dpop_jkt: Option<String>,
    /// The certificate it is bound to (RFC 8705 §4), if any.
    pub cert_thumbprint: Option<String>,
    /// Issued.
    pub created_at: i64,
    /// Expires.
    pub expires_at: i64,
    /// When it was rotated (spent), if it was.
    pub rotated_at: Option<i64>,
    /// Whether its grant has been revoked.
    pub grant_revoked: bool,
    /// When its grant was made: `--refresh-token-absolute-ttl` counts from here.
    pub grant_created_at: i64,
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

/// What signing a user out everywhere ended: on a password change, when the user is disabled, and
/// on `latchkey user revoke-sessions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SignOut {
    /// Browser sessions deleted.
    pub sessions: u64,
    /// Grants revoked: their refresh tokens are refused and their access tokens inactive (RFC 7009 §2.1).
    pub grants: u64,
    /// Authorization codes deleted before they were redeemed.
    pub authorization_codes: u64,
}

/// The prefix of reference (opaque) access tokens.
pub const REFERENCE_TOKEN_PREFIX: &str = "lk_at_";

/// A reference access token as stored: only its SHA-256, and the claims a JWT would have carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceToken {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// Its `jti` (revocation is recorded by it).
    pub jti: String,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The RFC 9068 claims, JSON.
    pub claims: String,
    /// Expiry.
    pub expires_at: i64,
}

/// Where a reader of the revocation records goes on from: every record written before it has been
/// seen. Backends fill it their own way (`migrations/*/0030_revocation_sequence.sql`); callers only
/// hand it back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RevocationCursor(pub i64);

impl RevocationCursor {
    /// Before every record: the first read sees them all.
    pub const START: Self = Self(0);
}

/// Receives the revocation records a reader streams, one at a time: an access token's `jti` or a
/// grant id, revoked, and when the last token it covers expires (RFC 7009 §2.1). A million of them
/// are never held as one list (the revocation cache's fill, issue 15).
pub type RevocationSink<'a> = &'a mut (dyn FnMut(&str, i64) + Send);

/// RFC 9126 §2.2: the URN namespace of the request URIs of pushed authorization requests.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How many rows one housekeeping statement deletes at most: a pass deletes a table's expired rows in
/// batches of this many, each its own short statement, so requests are never stalled behind it.
pub const HOUSEKEEPING_BATCH: u64 = 1000;

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
    /// Expired reference access tokens.
    pub reference_tokens: u64,
    /// Sign-in attempt counters whose window has ended.
    pub sign_in_attempts: u64,
    /// Expired pushed authorization requests (RFC 9126).
    pub pushed_requests: u64,
    /// Client assertion `jti`s past their assertion's expiry (RFC 7523).
    pub client_assertions: u64,
    /// Expired device authorization requests (RFC 8628).
    pub device_authorizations: u64,
    /// Expired initial access tokens of dynamic registration (RFC 7591 §3).
    pub registration_tokens: u64,
    /// DPoP proofs (RFC 9449 §11.1) past the window their `iat` could be accepted in.
    pub dpop_proofs: u64,
    /// Passkey ceremonies begun and never finished (WebAuthn §7.1, §7.2), past their timeout.
    pub passkey_ceremonies: u64,
    /// Sign-ins (session, client) of browser sessions that expired (OIDC Back-Channel Logout).
    pub session_clients: u64,
    /// Logout tokens undelivered a day after their session ended (the retries stop long before).
    pub logout_deliveries: u64,
    /// Retired signing keys whose tokens have all expired.
    pub signing_keys: u64,
    /// Audit events older than `--audit-retention`.
    pub audit_events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_id_knows_its_kind() {
        assert!(GrantId::generate(GrantKind::User).is_user_grant());
        let service = GrantId::generate(GrantKind::ClientCredentials);
        assert_eq!(service.kind(), Some(GrantKind::ClientCredentials));
        assert!(!service.is_user_grant());
        assert_eq!(GrantId::from_stored("other".into()).kind(), None);
    }
}
