//! Storage: the `Store` trait of whole domain operations, its error, and `connect(url)`.
//!
//! Each backend (`sqlite.rs`, `postgres.rs`) implements every operation with its own SQL; operations
//! that must be atomic are single statements or transactions inside the backend, never read-then-write
//! in the caller.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::api::{Api, Audience};
use crate::domain::attempt::{AttemptCounter, Reservation};
use crate::domain::client::{Client, ClientId, SealedSecret};
use crate::domain::grant::{
    AuthorizationCode, Grant, GrantId, Housekeeping, NewRefreshToken, Redemption, ReferenceToken,
    RefreshTokenState, RevocationCursor, RevocationSink, Rotation, SignOut,
};
use crate::domain::group::{Group, GroupName};
use crate::domain::role::{Assignment, Authorization, GroupContents, Role, RoleHolders, RoleName};
use crate::domain::scope::Scope;
use crate::domain::secret::TokenHash;
use crate::domain::user::{User, UserId};

mod error;
mod postgres;
mod rows;
mod shared;
mod sqlite;
mod sqlite_open;

pub(crate) use error::conflict_as;
pub use error::{Class, Operation, StoreError, classify, error_totals};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Wakes when revocations were recorded elsewhere ([`Store::listen_for_revocations`]).
#[async_trait]
pub trait RevocationListener: Send {
    /// Wait for the next notice. Notices sent while the connection was lost are gone: an error
    /// says so, and the next call reconnects.
    async fn wait(&mut self) -> Result<(), StoreError>;
}

/// The life-cycle state of a signing key (`next → active → retired`, DESIGN.md "Keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published in the JWKS, not yet signing.
    Next,
    /// Signing, and published.
    Active,
    /// No longer signing; published until every token it signed has expired.
    Retired,
}

impl KeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw {
            "next" => Some(Self::Next),
            "active" => Some(Self::Active),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// A signing key as stored: the private part encrypted (AES-256-GCM), the public part as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id (the JWS `kid`).
    pub kid: String,
    /// JWS algorithm (`RS256`, `ES256`, `EdDSA`).
    pub alg: String,
    /// Life-cycle state.
    pub state: KeyState,
    /// Encrypted PKCS#8 private key.
    pub private_key: Vec<u8>,
    /// The public JWK, serialised.
    pub public_jwk: String,
    /// Created.
    pub created_at: i64,
    /// Became active.
    pub activated_at: Option<i64>,
    /// Retired.
    pub retired_at: Option<i64>,
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (idle or in use).
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most it may open.
    pub max: u32,
}

/// The storage operations Latchkey needs, each a whole domain operation.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Apply pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Check the database answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
    /// The connection pool as it stands, for the metrics.
    fn pool_status(&self) -> PoolStatus;

    /// Register a client; `Conflict` if the id exists.
    async fn create_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Find a client by id.
    async fn find_client(&self, client_id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// All clients, by name.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Replace a client's registration (not its secret); false if it does not exist. A client that
    /// is no longer `client_secret_jwt` loses its sealed secret (it keeps the digest).
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError>;
    /// Replace a client's secret: its digest, and its sealed copy (`client_secret_jwt` clients
    /// only; `None` clears it); false if it does not exist.
    async fn set_client_secret(
        &self,
        client_id: &ClientId,
        secret_hash: &TokenHash,
        sealed: Option<&SealedSecret>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Delete a client and everything issued to it; false if it did not exist.
    async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError>;

    /// Keep a pushed authorization request (RFC 9126): its parameters (JSON), found by the SHA-256 of
    /// its `request_uri`, for `client_id`, until `expires_at`.
    async fn create_pushed_request(
        &self,
        request_hash: &TokenHash,
        client_id: &ClientId,
        params: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Begin a TOTP enrolment: keep `sealed_secret` as `user_id`'s unconfirmed factor, replacing an
    /// unconfirmed one. `false` (and nothing written) when the user has a confirmed factor.
    async fn begin_totp(
        &self,
        user_id: &UserId,
        sealed_secret: &[u8],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The user's TOTP factor, confirmed or not.
    async fn find_totp(
        &self,
        user_id: &UserId,
    ) -> Result<Option<crate::domain::mfa::TotpFactor>, StoreError>;
    /// Accept a code of time step `step` for the user's confirmed factor: `false` unless `step` is
    /// later than every step accepted before (RFC 6238 §5.2), even under concurrent requests.
    async fn use_totp_step(&self, user_id: &UserId, step: i64) -> Result<bool, StoreError>;
    /// Confirm the user's unconfirmed factor with a code of `step`, and replace their recovery codes
    /// with `recovery_codes`, in one transaction: `false` (nothing written) if there was no
    /// unconfirmed factor to confirm.
    async fn confirm_totp(
        &self,
        user_id: &UserId,
        step: i64,
        recovery_codes: &[TokenHash],
        now: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<bool, StoreError>;
    /// Replace the user's recovery codes with `recovery_codes` (digests), with its audit event, in
    /// one transaction.
    async fn replace_recovery_codes(
        &self,
        user_id: &UserId,
        recovery_codes: &[TokenHash],
        now: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<(), StoreError>;
    /// Spend one of the user's recovery codes: `false` unless it was theirs and unused (single use,
    /// even under concurrent requests).
    async fn use_recovery_code(
        &self,
        user_id: &UserId,
        code_hash: &TokenHash,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// How many of the user's recovery codes are left.
    async fn count_recovery_codes(&self, user_id: &UserId) -> Result<i64, StoreError>;
    /// Remove every second factor of the user (TOTP, recovery codes and passkeys), with its audit event, in
    /// one transaction: whether there was one (nothing, not even the event, is written if not).
    async fn reset_second_factors(
        &self,
        user_id: &UserId,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<bool, StoreError>;
    /// The user's WebAuthn user handle: the one they have, or else `candidate`, kept as theirs
    /// (one upsert, so concurrent registrations agree on one handle).
    async fn passkey_user_handle(
        &self,
        user_id: &UserId,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError>;
    /// Keep a newly registered passkey with its audit event and, when `recovery_codes` is given (the
    /// user's first second factor), replace the user's recovery codes with them, in one
    /// transaction: `false` (nothing written) if the credential id is registered already.
    async fn add_passkey(
        &self,
        passkey: &crate::domain::passkey::Passkey,
        recovery_codes: Option<&[TokenHash]>,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<bool, StoreError>;
    /// The user's passkeys, oldest first.
    async fn list_passkeys(
        &self,
        user_id: &UserId,
    ) -> Result<Vec<crate::domain::passkey::Passkey>, StoreError>;
    /// The passkey with `credential_id`, and its user's handle.
    async fn find_passkey(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<(crate::domain::passkey::Passkey, Vec<u8>)>, StoreError>;
    /// Record a use of a passkey: its new `dynamic_state` (signature counter, flags), only if the
    /// stored one is still `seen` (one conditional UPDATE: of two concurrent uses that read the
    /// same counter, one passes).
    async fn use_passkey(
        &self,
        credential_id: &[u8],
        seen: &[u8],
        dynamic_state: &[u8],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Remove one of the user's passkeys with its audit event, and their recovery codes when no
    /// second factor is left, in one transaction: whether it was theirs (nothing, not even the
    /// event, is written if not).
    async fn remove_passkey(
        &self,
        user_id: &UserId,
        credential_id: &[u8],
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<bool, StoreError>;
    /// Keep a begun passkey ceremony under the digest of its id.
    async fn begin_passkey_ceremony(
        &self,
        ceremony_hash: &TokenHash,
        ceremony: &crate::domain::passkey::Ceremony,
    ) -> Result<(), StoreError>;
    /// Take a begun ceremony out of the store (single use, even under concurrent requests and
    /// across instances): `None` if unknown, already taken, or expired at `now`.
    async fn take_passkey_ceremony(
        &self,
        ceremony_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<crate::domain::passkey::Ceremony>, StoreError>;
    /// Remove the user's authenticator app (TOTP), and their recovery codes unless a passkey is
    /// left, with its audit event, in one transaction: whether there was an app (nothing, not even
    /// the event, is written if not).
    async fn remove_totp(
        &self,
        user_id: &UserId,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<bool, StoreError>;
    /// Record a DPoP proof (RFC 9449 §11.1: the hash of its key's thumbprint and its `jti`), kept
    /// until `expires_at`: `false` when it was seen before (a replay), on this instance or another.
    async fn record_dpop_proof(
        &self,
        proof_hash: &TokenHash,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Record the `jti` of a client assertion (RFC 7523 §3 item 7), kept until `expires_at`: `false`
    /// when that client already used it (a replay), on this instance or another.
    async fn record_client_assertion(
        &self,
        client_id: &ClientId,
        jti_hash: &TokenHash,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Take the pushed request `request_hash` of `client_id` out of the store (single use, even
    /// under concurrent requests): its parameters, or `None` if it is unknown, another client's,
    /// already used or expired at `now`.
    async fn consume_pushed_request(
        &self,
        request_hash: &TokenHash,
        client_id: &ClientId,
        now: i64,
    ) -> Result<Option<String>, StoreError>;
    /// Keep a device authorization request (RFC 8628 §3.1); `Conflict` if its user code is taken.
    async fn create_device_authorization(
        &self,
        request: &crate::domain::device::DeviceAuthorization,
    ) -> Result<(), StoreError>;
    /// The device authorization request whose user code hashes to `user_code_hash`, if it is still
    /// pending and unexpired at `now` (RFC 8628 §3.3).
    async fn find_device_authorization(
        &self,
        user_code_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<crate::domain::device::DeviceAuthorization>, StoreError>;
    /// Approve or deny the pending, unexpired request of `user_code_hash` in one conditional
    /// statement; false (nothing changed) if it is no longer pending or has expired.
    async fn decide_device_authorization(
        &self,
        user_code_hash: &TokenHash,
        decision: &crate::domain::device::DeviceDecision,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Count a poll of the token endpoint (RFC 8628 §3.4) for the request of `device_code_hash`
    /// made to `client_id`, growing its interval when a pending request is polled too soon (§3.5),
    /// in one statement; the request as it then stands, or `None` if there is no such request.
    async fn poll_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        client_id: &ClientId,
        now: i64,
    ) -> Result<Option<crate::domain::device::DevicePoll>, StoreError>;
    /// Atomically mark the approved request redeemed and record `grant` (and its first refresh
    /// token) in the same transaction. Of any number of concurrent calls, exactly one gets
    /// `Redeemed`.
    async fn redeem_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        grant: &Grant,
        refresh_token: Option<&NewRefreshToken>,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<Redemption, StoreError>;
    /// Apply a declarative configuration's `writes` in order, with `events`, in ONE transaction:
    /// every write or none. A write that finds nothing to change (someone changed the store since
    /// the plan was made) is a [`StoreError::Conflict`] and rolls everything back.
    async fn apply_configuration(
        &self,
        writes: &[crate::domain::configuration::Write],
        events: &[crate::domain::audit::AuditEvent],
    ) -> Result<(), StoreError>;
    /// Every role and membership link.
    async fn list_assignments(&self) -> Result<Vec<Assignment>, StoreError>;

    /// Create a user; `Conflict` if the username is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// Find a user by `sub`.
    async fn find_user(&self, user_id: &UserId) -> Result<Option<User>, StoreError>;
    /// Find a user by (normalised) username.
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// All users, by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Replace a user's password hash and, in the same transaction, sign them out everywhere as
    /// [`Store::revoke_user_sessions`] does; `None` if the user does not exist.
    async fn set_user_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        now: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<Option<SignOut>, StoreError>;
    /// Disable a user and, in the same transaction, sign them out everywhere as
    /// [`Store::revoke_user_sessions`] does (so enabling them again brings nothing old back);
    /// `None` if the user does not exist.
    async fn disable_user(
        &self,
        user_id: &UserId,
        now: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<Option<SignOut>, StoreError>;
    /// Let a disabled user sign in again; false if the user does not exist.
    async fn enable_user(&self, user_id: &UserId, now: i64) -> Result<bool, StoreError>;
    /// In one transaction: delete the user's browser sessions and unredeemed authorization codes,
    /// and revoke every grant of theirs (RFC 7009 §2.1: with its refresh and access tokens),
    /// recording the revocations until `keep_until`, when every token they cover has expired.
    /// `None` (and nothing changed) if the user does not exist.
    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        now: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<Option<SignOut>, StoreError>;
    /// Delete a user and everything issued to them, queueing a logout token for every client
    /// they are signed in to (OIDC Back-Channel Logout §2.7) in the same transaction; false if
    /// they did not exist.
    async fn delete_user(&self, user_id: &UserId, now: i64) -> Result<bool, StoreError>;

    /// Create a scope; `Conflict` if it exists.
    async fn create_scope(&self, scope: &Scope) -> Result<(), StoreError>;
    /// All scopes, by name.
    async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError>;
    /// Delete a non-builtin scope; false if there was no such scope.
    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError>;

    /// Create a role; `Conflict` if it exists.
    async fn create_role(&self, role: &Role) -> Result<(), StoreError>;
    /// Replace a role's description, API, `require_mfa` and granted scopes, in one transaction;
    /// false if it does not exist.
    async fn update_role(&self, role: &Role) -> Result<bool, StoreError>;
    /// Find a role by name.
    async fn find_role(&self, name: &RoleName) -> Result<Option<Role>, StoreError>;
    /// All roles, by name.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Delete a role and every link granting it; false if it did not exist.
    async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError>;
    /// The users, clients and groups that hold a role directly.
    async fn find_role_holders(&self, name: &RoleName) -> Result<RoleHolders, StoreError>;
    /// Create a group; `Conflict` if it exists.
    async fn create_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Find a group by name.
    async fn find_group(&self, name: &GroupName) -> Result<Option<Group>, StoreError>;
    /// All groups, by name.
    async fn list_groups(&self) -> Result<Vec<Group>, StoreError>;
    /// Delete a group with its memberships and role links; false if it did not exist.
    async fn delete_group(&self, name: &GroupName) -> Result<bool, StoreError>;
    /// A group's members and roles.
    async fn find_group_contents(&self, name: &GroupName) -> Result<GroupContents, StoreError>;
    /// Record a role or membership link in one statement; false (nothing written) if it already
    /// exists or either side does not.
    async fn add_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError>;
    /// Remove a role or membership link; false if there was none.
    async fn remove_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError>;
    /// RFC 9068 §2.2.3.1: a user's effective roles (their own plus their groups') and groups, in
    /// ONE query (read at every token issuance for the user).
    async fn find_authorization(&self, user_id: &UserId) -> Result<Authorization, StoreError>;
    /// A client's own roles (for its client-credentials tokens), in one query.
    async fn find_client_roles(&self, client_id: &ClientId) -> Result<Vec<RoleName>, StoreError>;

    /// Store a new signing key; `Conflict` if its alg already has a key in the same `active`/`next` state.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// All signing keys, newest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// In one transaction: retire the active key of `new_next.alg`, promote its next key to active,
    /// and store `new_next` as the next key. Returns the kid that became active, or `None` (and
    /// nothing changed) if the alg has no next key.
    /// With `expected_active`, only if that key is still the active one (else `None`, nothing
    /// changed): of several instances rotating at once, exactly one does.
    async fn rotate_signing_keys(
        &self,
        new_next: &SigningKeyRecord,
        now: i64,
        expected_active: Option<&str>,
    ) -> Result<Option<String>, StoreError>;
    /// Append audit events, all in one transaction.
    async fn record_audit_events(
        &self,
        events: &[crate::domain::audit::AuditEvent],
    ) -> Result<(), StoreError>;
    /// Audit events matching `filter`, newest first.
    async fn list_audit_events(
        &self,
        filter: &crate::domain::audit::AuditFilter,
    ) -> Result<Vec<crate::domain::audit::AuditEvent>, StoreError>;
    /// Delete the audit events older than `before` (`--audit-retention`).
    async fn delete_audit_events_before(&self, before: i64) -> Result<u64, StoreError>;
    /// Delete the keys retired before `retired_before` (every token they signed has expired).
    async fn delete_retired_signing_keys(&self, retired_before: i64) -> Result<u64, StoreError>;
    /// Replace every stored key's sealed private key, `(kid, sealed)`, and every sealed client
    /// secret, `(client_id, was, now)`, in one transaction: all or nothing, and `Conflict` if the set
    /// of keys is not exactly `sealed`'s, or a client's sealed secret is no longer `was` (its secret
    /// was rotated meanwhile) or is missing from `client_secrets`.
    async fn rewrap_sealed_secrets(
        &self,
        sealed: &[(String, Vec<u8>)],
        client_secrets: &[(ClientId, SealedSecret, SealedSecret)],
    ) -> Result<(), StoreError>;

    /// Insert a new browser session, keyed by the SHA-256 of its id and linked to its signed-in
    /// user, if any; false (nothing written) if the id is taken.
    async fn create_session(
        &self,
        session: &crate::domain::account::SessionRecord<'_>,
    ) -> Result<bool, StoreError>;
    /// Replace an existing browser session; false (nothing written) if it no longer exists, so a
    /// session ended meanwhile (signed out, or its user's sessions revoked) is never brought back.
    async fn save_session(
        &self,
        session: &crate::domain::account::SessionRecord<'_>,
    ) -> Result<bool, StoreError>;
    /// Move the browser session stored under `from` to `session`'s new id and replace it, in one
    /// statement: the id renewal at sign-in (no session fixation). False (nothing written) if the
    /// session under `from` no longer exists or the new id is taken.
    async fn rename_session(
        &self,
        from: &TokenHash,
        session: &crate::domain::account::SessionRecord<'_>,
    ) -> Result<bool, StoreError>;
    /// The live browser sessions of `user_id` at `now`, newest sign-in first (the account page).
    async fn list_user_sessions(
        &self,
        user_id: &UserId,
        now: i64,
    ) -> Result<Vec<crate::domain::account::UserSession>, StoreError>;
    /// End the browser session `sid` of `user_id` in one transaction with `audit`: delete it, queue
    /// a logout token for every client it signed in to (OIDC Back-Channel Logout §2.7), and revoke
    /// the grants issued in it (recorded until `keep_until`). False (nothing changed) when the user
    /// has no such session.
    async fn end_user_session(
        &self,
        user_id: &UserId,
        sid: &str,
        now: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<bool, StoreError>;
    /// The applications `user_id` has connected at `now`: the clients they consented to, and those
    /// holding a live grant of theirs, by name.
    async fn list_connected_apps(
        &self,
        user_id: &UserId,
        now: i64,
    ) -> Result<Vec<crate::domain::account::ConnectedApp>, StoreError>;
    /// Revoke `user_id`'s consent to `client_id` in one transaction with `audit` (written only when
    /// something was revoked): delete the consent, void the client's unredeemed codes for the user,
    /// and revoke every grant of the user's to the client (RFC 7009 §2.1: with its refresh and
    /// access tokens), recorded until `keep_until`.
    async fn revoke_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        now: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<crate::domain::account::ConsentRevocation, StoreError>;
    /// The browser session `sid` is ending (RP-initiated sign-out): queue a logout token for every
    /// client it signed in to that registered a `backchannel_logout_uri`, and forget its
    /// sign-ins, in one transaction. Answers how many were queued.
    async fn end_session_sign_ins(&self, sid: &str, now: i64) -> Result<u64, StoreError>;
    /// Claim up to `limit` logout deliveries due at `now`: each is hidden from other claims until
    /// `lease_until` and its attempt counted.
    async fn claim_logout_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<crate::domain::logout::LogoutDelivery>, StoreError>;
    /// A claimed delivery is done (`None`: delivered or given up; deleted) or is to be tried again
    /// at `retry_at`.
    async fn finish_logout_delivery(
        &self,
        jti: &str,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError>;
    /// A browser session that has not expired at `now`.
    async fn load_session(
        &self,
        id_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Delete a browser session.
    async fn delete_session(&self, id_hash: &TokenHash) -> Result<(), StoreError>;

    /// The scopes `user_id` has consented to for `client_id` (space-delimited), if any.
    async fn find_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
    ) -> Result<Option<String>, StoreError>;
    /// Record (replacing) the scopes `user_id` consented to for `client_id`.
    async fn save_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Store a new authorization code.
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// Find a code by its hash (consumed or not).
    async fn find_authorization_code(
        &self,
        code_hash: &TokenHash,
    ) -> Result<Option<AuthorizationCode>, StoreError>;
    /// Atomically consume the code (only if unconsumed) and record `grant` (and its first refresh
    /// token) in the same transaction. Of any number of concurrent calls for one code, exactly one
    /// gets `Redeemed`.
    async fn redeem_authorization_code(
        &self,
        code_hash: &TokenHash,
        grant: &Grant,
        refresh_token: Option<&NewRefreshToken>,
        now: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<Redemption, StoreError>;

    /// A refresh token by its hash, with its grant's client, user and revocation.
    async fn find_refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenState>, StoreError>;
    /// Rotate a refresh token in one transaction (RFC 9700 §4.14.2): spend `presented` and store
    /// `next`; or, if `presented` was spent at or after `grace_since` and its successor is unused,
    /// retire the successor instead; or, if it was spent before that, revoke the whole grant
    /// (recorded until `keep_until`).
    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        next: &NewRefreshToken,
        now: i64,
        grace_since: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<Rotation, StoreError>;
    /// Record one access token (`jti`) as revoked until it expires.
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Delete what can no longer matter at `now`; spent refresh tokens are kept for reuse detection
    /// until `spent_before`.
    async fn housekeep(&self, now: i64, spent_before: i64) -> Result<Housekeeping, StoreError>;

    /// Mark a grant revoked and record the revocation until `keep_until` (when its last token expires).
    async fn revoke_grant(
        &self,
        grant_id: &GrantId,
        now: i64,
        keep_until: i64,
        audit: crate::domain::audit::InTransaction<'_>,
    ) -> Result<(), StoreError>;
    /// Whether any of `ids` (an access token's `jti`, its grant id) has been revoked.
    async fn is_revoked(&self, jti: &str, grant_id: &GrantId) -> Result<bool, StoreError>;
    /// The revocation records (of `jti`s and grant ids, all that [`Store::is_revoked`] consults)
    /// written at or after `since` and unexpired at `now`, handed to `each` as they are read; and
    /// where to read from next time (a record may be read again from there, never missed): the
    /// revocation cache's fill ([`RevocationCursor::START`]) and its catch-up. A record whose
    /// writer has not committed yet is never skipped: it comes in a later read.
    async fn revocations_since(
        &self,
        since: RevocationCursor,
        now: i64,
        each: RevocationSink<'_>,
    ) -> Result<RevocationCursor, StoreError>;
    /// PostgreSQL: a connection that wakes when another instance (or a CLI) records a revocation
    /// (`LISTEN latchkey_revocations`). `None` where there is nothing to listen to (SQLite: one
    /// process serves it, and the catch-up alone keeps a CLI's revocations current).
    async fn listen_for_revocations(
        &self,
    ) -> Result<Option<Box<dyn RevocationListener>>, StoreError>;
    /// OIDC Core §5.5: the claims `client_id` asked for one by one when it was given the grant;
    /// `None` when it asked for none, the grant is gone, or it is another client's.
    async fn find_requested_claims(
        &self,
        grant_id: &GrantId,
        client_id: &ClientId,
    ) -> Result<Option<crate::domain::claims_request::ClaimsRequest>, StoreError>;

    /// Store a reference (opaque) access token.
    async fn create_reference_token(&self, token: &ReferenceToken) -> Result<(), StoreError>;
    /// A reference access token by its hash (expired or not).
    async fn find_reference_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<ReferenceToken>, StoreError>;

    /// Register an API; `Conflict` if its audience exists.
    async fn create_api(&self, api: &Api) -> Result<(), StoreError>;
    /// All APIs, by name.
    async fn list_apis(&self) -> Result<Vec<Api>, StoreError>;
    /// Replace an API's settings (not its audience); false if it does not exist.
    async fn update_api(&self, api: &Api) -> Result<bool, StoreError>;
    /// Delete an API that no scope or role belongs to; false if it does not exist or still has them.
    async fn delete_api(&self, audience: &Audience) -> Result<bool, StoreError>;
    /// Attach a (non-builtin) scope to an API, or detach it with `None`; false if no such scope.
    async fn set_scope_api(&self, name: &str, api: Option<&Audience>) -> Result<bool, StoreError>;

    /// Record an initial access token (RFC 7591 §3) by the SHA-256 of its value.
    async fn create_registration_token(
        &self,
        token: &crate::domain::registration::RegistrationToken,
        token_hash: &TokenHash,
    ) -> Result<(), StoreError>;
    /// Every initial access token, oldest first.
    async fn list_registration_tokens(
        &self,
    ) -> Result<Vec<crate::domain::registration::RegistrationToken>, StoreError>;
    /// The initial access token whose value hashes to `token_hash` (usable or not).
    async fn find_registration_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<crate::domain::registration::RegistrationToken>, StoreError>;
    /// Delete an initial access token; false if there was none.
    async fn delete_registration_token(&self, token_id: &str) -> Result<bool, StoreError>;
    /// RFC 7591 §3.2.1, in ONE transaction: spend one use of the initial access token `initial`
    /// (when given, and only if it is usable at `now`), create `client`, and record the hash of its
    /// registration access token (RFC 7592 §3). `false`, and nothing written, if the initial access
    /// token was not usable (unknown, expired, used up, or spent by a concurrent registration).
    async fn register_client(
        &self,
        client: &Client,
        access_token_hash: &TokenHash,
        initial: Option<&TokenHash>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The dynamically registered client whose registration access token hashes to
    /// `access_token_hash` (RFC 7592 §3).
    async fn find_registration(
        &self,
        access_token_hash: &TokenHash,
    ) -> Result<Option<ClientId>, StoreError>;
    /// Replace `client_id`'s registration access token hash by `next`, only if it is still
    /// `current` (one statement: of concurrent requests with one token, one wins); false otherwise.
    async fn rotate_registration_access_token(
        &self,
        client_id: &ClientId,
        current: &TokenHash,
        next: &TokenHash,
    ) -> Result<bool, StoreError>;

    /// Reserve one attempt on every counter at once, in one transaction (OWASP ASVS 2.2.1): a counter
    /// whose window ended at or before `now` starts a new one at `now`; if every counter is then below
    /// its limit, each counts the attempt (`Reserved`), otherwise none does (`Refused`, with the
    /// seconds until every full counter's window ends). Of N concurrent reservations on a counter with
    /// limit L, exactly min(N, L) are `Reserved`.
    async fn reserve_attempts(
        &self,
        counters: &[AttemptCounter],
        now: i64,
    ) -> Result<Reservation, StoreError>;
    /// Give back one attempt reserved at `reserved_at` on each of `keys`, if the window it was counted
    /// in is still the counter's (never below zero).
    async fn refund_attempts(&self, keys: &[TokenHash], reserved_at: i64)
    -> Result<(), StoreError>;
    /// Forget the counters `keys` altogether.
    async fn clear_attempts(&self, keys: &[TokenHash]) -> Result<(), StoreError>;
}

/// Connect to the database `url` names, with at most `max_connections` pooled connections. The
/// backend is chosen by the URL scheme: `sqlite:` or `postgres:` / `postgresql:`.
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme);
    Ok(match scheme {
        Some("postgres" | "postgresql") => {
            Arc::new(PostgresStore::connect(url, max_connections).await?)
        }
        _ => Arc::new(SqliteStore::connect(url, max_connections).await?),
    })
}

/// `counters` sorted by key (each key once, with its lowest limit), so that transactions locking
/// several counters always lock them in the same order.
pub(crate) fn in_lock_order(counters: &[AttemptCounter]) -> Vec<&AttemptCounter> {
    let mut sorted: Vec<&AttemptCounter> = counters.iter().collect();
    sorted.sort_by_key(|counter| (counter.key.0, counter.limit));
    sorted.dedup_by(|later, first| later.key == first.key);
    sorted
}
