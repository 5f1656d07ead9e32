//! Users: the rules of registering one (a free, valid username; a valid e-mail address; a plain
//! name), shared by the CLI and the admin API, and the view both show (never the password hash).
//! The new password is hashed by the caller, off the async runtime: the CLI on a blocking thread,
//! the server on its bounded argon2 pool.

use serde::Serialize;

use super::AdminError;
use crate::domain::audit::InTransaction;
use crate::domain::grant::SignOut;
use crate::domain::user::{User, UserId, check_email, normalize_username};
use crate::store::{Store, StoreError};

/// A user's second factors, as `user show` prints them: never a secret or a code.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SecondFactors {
    /// Whether they have a confirmed authenticator app (TOTP).
    pub totp: bool,
    /// How many passkeys they have registered.
    #[serde(default)]
    pub passkeys: usize,
    /// How many of their recovery codes are left unused.
    pub recovery_codes: i64,
}

impl SecondFactors {
    /// Whether they have any second factor at all.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// The second factors of `user_id`.
pub async fn second_factors(
    store: &dyn Store,
    user_id: &UserId,
) -> Result<SecondFactors, StoreError> {
    let totp = store
        .find_totp(user_id)
        .await?
        .is_some_and(|f| f.confirmed_at.is_some());
    Ok(SecondFactors {
        totp,
        passkeys: store.list_passkeys(user_id).await?.len(),
        recovery_codes: store.count_recovery_codes(user_id).await?,
    })
}

/// What `user mfa reset` answers: whether there was a second factor to remove.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = MfaReset)]
pub struct MfaReset {
    /// The user's username.
    pub username: String,
    /// Whether a factor (or an unconfirmed enrolment, or recovery codes) was removed.
    pub removed: bool,
}

/// A user as the CLI prints it and the admin API answers: never the password hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView<'a> {
    /// Their id: the `sub` of their tokens (OIDC Core §2).
    user_id: &'a str,
    /// What they sign in as (case-insensitive, stored in lower case).
    username: &'a str,
    /// Their e-mail address.
    email: Option<&'a str>,
    /// Whether the e-mail address is verified (one an operator gives is taken as verified).
    email_verified: bool,
    /// Their display name.
    name: Option<&'a str>,
    /// A disabled user cannot sign in.
    disabled: bool,
    /// When they were registered (seconds since the epoch).
    created_at: i64,
    /// When they last changed (seconds since the epoch).
    updated_at: i64,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            user_id: u.user_id.as_str(),
            username: &u.username,
            email: u.email.as_deref(),
            email_verified: u.email_verified,
            name: u.name.as_deref(),
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A user to register, as given.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// The username (case-insensitive; stored normalised).
    pub username: String,
    /// An e-mail address.
    pub email: Option<String>,
    /// A display name.
    pub name: Option<String>,
}

/// A checked registration, waiting for its password hash.
#[derive(Debug, Clone)]
pub struct Checked {
    pub(crate) username: String,
    pub(crate) email: Option<String>,
    pub(crate) name: Option<String>,
}

/// What a user's new password must not resemble (zxcvbn's user inputs): their username, e-mail
/// address and name.
fn password_inputs(username: &str, email: Option<&str>, name: Option<&str>) -> Vec<String> {
    [Some(username), email, name]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// What `user`'s new password must not resemble.
pub fn password_inputs_of(user: &User) -> Vec<String> {
    password_inputs(&user.username, user.email.as_deref(), user.name.as_deref())
}

impl Checked {
    /// What the new password must not resemble.
    pub fn password_inputs(&self) -> Vec<String> {
        password_inputs(&self.username, self.email.as_deref(), self.name.as_deref())
    }

    /// The user, with `password_hash`, registered at `now`.
    pub fn into_user(self, password_hash: String, now: i64) -> User {
        User {
            user_id: UserId::generate(),
            email_verified: self.email.is_some(),
            username: self.username,
            email: self.email,
            name: self.name,
            password_hash,
            disabled: false,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Check `new` before its password is hashed: the username is valid and free, the e-mail address
/// and name are valid.
pub async fn check(store: &dyn Store, new: &NewUser) -> Result<Checked, AdminError> {
    let checked = parse(new)?;
    if store
        .find_user_by_username(&checked.username)
        .await?
        .is_some()
    {
        return Err(AdminError::Invalid(format!(
            "the username '{}' is taken",
            checked.username
        )));
    }
    Ok(checked)
}

/// Check `new`'s username, e-mail address and name (not whether the username is free).
pub fn parse(new: &NewUser) -> Result<Checked, AdminError> {
    let username = normalize_username(&new.username).map_err(|e| AdminError::Invalid(e.0))?;
    let email = new
        .email
        .as_deref()
        .map(check_email)
        .transpose()
        .map_err(|e| AdminError::Invalid(e.0))?;
    let name = new
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(|n| crate::domain::text::plain_text(n, "the name", 200))
        .transpose()
        .map_err(AdminError::Invalid)?;
    Ok(Checked {
        username,
        email,
        name,
    })
}

/// Until when the revocation of a user's grants is kept: until every token it covers has expired
/// (`Lifetimes::revocation_retention` seconds after `now`).
pub fn revocations_kept_until(now: i64, retention: i64) -> i64 {
    now.saturating_add(retention)
}

/// Why a user is signed out everywhere without a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOutKind {
    /// `user disable`: they may not sign in again until enabled.
    Disable,
    /// `user revoke-sessions`: their password is kept.
    RevokeSessions,
}

impl SignOutKind {
    /// The audit trail's action.
    pub fn action(self) -> &'static str {
        match self {
            Self::Disable => "disabled",
            Self::RevokeSessions => "sessions_revoked",
        }
    }
}

/// Sign the user `user_id` out everywhere (`kind`): their browser sessions end, their grants are
/// revoked and their unredeemed codes voided, in one transaction with `audit`. `None`: the user was
/// deleted meanwhile.
pub async fn sign_out(
    store: &dyn Store,
    user_id: &UserId,
    kind: SignOutKind,
    now: i64,
    retention: i64,
    audit: InTransaction<'_>,
) -> Result<Option<SignOut>, StoreError> {
    let keep_until = revocations_kept_until(now, retention);
    match kind {
        SignOutKind::Disable => store.disable_user(user_id, now, keep_until, audit).await,
        SignOutKind::RevokeSessions => {
            store
                .revoke_user_sessions(user_id, now, keep_until, audit)
                .await
        }
    }
}
