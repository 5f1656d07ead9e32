//! Checking a second factor's code: a TOTP code (RFC 6238), or one of the user's recovery codes.
//! Each is accepted once, even under concurrent requests: a TOTP code only for a time step later
//! than the last one used (§5.2), a recovery code by spending it, each in one conditional UPDATE.
//! The caller reserves the attempt in the sign-in throttle first.

use secrecy::{ExposeSecret, SecretSlice};

use super::Context;
use crate::domain::mfa::{TotpFactor, looks_like_recovery_code, recovery_code_hash, totp_step};
use crate::domain::user::UserId;
use crate::keys::encryption::DecryptError;
use crate::store::StoreError;

/// Which factor accepted a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A TOTP code from the authenticator app.
    Totp,
    /// One of the recovery codes (now spent).
    RecoveryCode,
}

impl Accepted {
    /// Its name in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// Why a code could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TOTP secret does not open with the key-encryption key.
    #[error(transparent)]
    Sealed(#[from] DecryptError),
}

/// The user's sealed TOTP secret, opened.
pub fn open_secret(
    ctx: &Context<'_>,
    factor: &TotpFactor,
) -> Result<SecretSlice<u8>, DecryptError> {
    ctx.keys
        .kek()
        .open_totp_secret(&factor.user_id, &factor.sealed_secret)
}

/// Check `code` of `user_id` against their confirmed `factor` (none for a user with passkeys and
/// recovery codes only) at `ctx.now`: which factor accepted it, or `None` for a wrong code, an
/// already used one, or a recovery code that is not theirs.
pub async fn check_code(
    ctx: &Context<'_>,
    user_id: &UserId,
    factor: Option<&TotpFactor>,
    code: &str,
) -> Result<Option<Accepted>, CodeError> {
    if looks_like_recovery_code(code) {
        let spent = ctx
            .store
            .use_recovery_code(user_id, &recovery_code_hash(code), ctx.now)
            .await?;
        return Ok(spent.then_some(Accepted::RecoveryCode));
    }
    let Some(factor) = factor else {
        return Ok(None);
    };
    let secret = open_secret(ctx, factor)?;
    let Some(step) = totp_step(secret.expose_secret(), code, ctx.now) else {
        return Ok(None);
    };
    let used = ctx.store.use_totp_step(user_id, step).await?;
    Ok(used.then_some(Accepted::Totp))
}
