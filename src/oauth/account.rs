//! The account page's decisions, over the store and the argon2 pool: confirming the signed-in
//! user's current password before a sensitive change (re-authentication), and changing the password.
//!
//! OWASP ASVS 4.0.3 §3.7.1: a full, valid session is not enough for a sensitive account change; the
//! user proves their password again. The check goes through the sign-in throttle (ASVS §2.2.1, the
//! attempt reserved before argon2 runs), so a stolen session cannot guess the password faster here
//! than on the login page.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use super::sign_in::{Refusal, check_credentials};
use crate::domain::audit::{AuditEvent, InTransaction};
use crate::domain::grant::SignOut;
use crate::domain::password::hash_new_password;
use crate::domain::user::User;
use crate::password_pool::PasswordSlots;
use crate::store::{Store, StoreError};

/// Confirm that `password` is `user`'s current password, presented from `address` at `now`: counted
/// in the sign-in throttle with the login page's attempts, checked with argon2id on the pool.
pub async fn confirm_password(
    store: &dyn Store,
    passwords: &PasswordSlots,
    user: &User,
    password: SecretString,
    address: IpAddr,
    now: i64,
) -> Result<Result<(), Refusal>, StoreError> {
    Ok(
        match check_credentials(store, passwords, &user.username, password, address, now).await? {
            Ok(found) if found.user_id == user.user_id => Ok(()),
            Ok(_) => Err(Refusal::WrongCredentials),
            Err(refusal) => Err(refusal),
        },
    )
}

/// What became of a password change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordChange {
    /// Changed: every session of the user ended and every grant of theirs was revoked.
    Changed(SignOut),
    /// The current password was not confirmed.
    Refused(Refusal),
    /// The new password breaks the policy (the words say why).
    Weak(String),
    /// The new password is the current one.
    Unchanged,
    /// The user is gone.
    Gone,
}

/// A password change asked for on the account page.
pub struct NewPassword {
    /// The password the user signs in with now.
    pub current: SecretString,
    /// The one they want.
    pub new: SecretString,
    /// Where the request came from (the throttle counts the attempt against this network).
    pub address: IpAddr,
}

/// Change `user`'s password (ASVS 4.0.3 §2.1.6: the current one is required) at `now`. The new one meets the policy `user set-password` applies (ASVS §2.1.1, §2.1.7: long
/// enough, not guessable, not built from the user's own details). On success, in one transaction
/// with `audit`, every browser session of the user ends and every grant is revoked (recorded until
/// `keep_until`): whoever held the old password, or a session or token got with it, is shut out.
/// The caller signs the current browser in again.
pub async fn change_password(
    store: &dyn Store,
    passwords: &PasswordSlots,
    user: &User,
    change: NewPassword,
    now: i64,
    keep_until: i64,
    audit: &AuditEvent,
) -> Result<PasswordChange, StoreError> {
    let NewPassword {
        current,
        new,
        address,
    } = change;
    let same = current.expose_secret() == new.expose_secret();
    if let Err(refusal) = confirm_password(store, passwords, user, current, address, now).await? {
        return Ok(PasswordChange::Refused(refusal));
    }
    if same {
        return Ok(PasswordChange::Unchanged);
    }
    let inputs = crate::admin::user::password_inputs_of(user);
    let hashed = passwords
        .run(move || {
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            hash_new_password(&new, &inputs)
        })
        .await;
    let password_hash = match hashed {
        Ok(Ok(hash)) => hash,
        Ok(Err(why)) => return Ok(PasswordChange::Weak(why.to_string())),
        Err(_) => return Ok(PasswordChange::Refused(Refusal::Busy)),
    };
    let done = store
        .set_user_password(
            &user.user_id,
            &password_hash,
            now,
            keep_until,
            InTransaction::done(audit),
        )
        .await?;
    Ok(done.map_or(PasswordChange::Gone, PasswordChange::Changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::EventType;
    use crate::domain::password::{hash_password, verify_password};
    use crate::oauth::testing::{Harness, NOW};

    const RIGHT: &str = "correct horse battery staple";
    const STRONG: &str = "violet kettle drums at midnight";

    async fn alice(h: &Harness) -> User {
        let mut user = h.user("alice").await;
        user.password_hash = hash_password(&SecretString::from(RIGHT.to_owned())).unwrap();
        h.store.delete_user(&user.user_id, h.now).await.unwrap();
        h.store.create_user(&user).await.unwrap();
        user
    }

    fn outcome(change: &PasswordChange) -> String {
        match change {
            PasswordChange::Changed(_) => "changed".into(),
            PasswordChange::Refused(refusal) => format!("{refusal:?}"),
            PasswordChange::Weak(_) => "weak".into(),
            PasswordChange::Unchanged => "unchanged".into(),
            PasswordChange::Gone => "gone".into(),
        }
    }

    #[tokio::test]
    async fn password_change_rules() {
        let h = Harness::new(&[]).await;
        let passwords = PasswordSlots::new(1);
        let user = alice(&h).await;
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        let event = AuditEvent::new(EventType::AccountPasswordChanged, NOW, "user:alice");
        // (case, current, new, expected); the last row changes it.
        let cases = [
            (
                "ASVS 2.1.6: a wrong current password",
                "wrong",
                STRONG,
                "WrongCredentials",
            ),
            (
                "ASVS 2.1.7: a guessable new password",
                RIGHT,
                "password123",
                "weak",
            ),
            (
                "ASVS 2.1.7: the user's own username",
                RIGHT,
                "alicealicealice",
                "weak",
            ),
            ("the same password again", RIGHT, RIGHT, "unchanged"),
            ("a strong new password", RIGHT, STRONG, "changed"),
        ];
        for (case, current, new, expected) in cases {
            let change = change_password(
                h.store.as_ref(),
                &passwords,
                &user,
                NewPassword {
                    current: SecretString::from(current.to_owned()),
                    new: SecretString::from(new.to_owned()),
                    address,
                },
                NOW,
                NOW + 3600,
                &event,
            )
            .await
            .unwrap();
            assert_eq!(outcome(&change), expected, "{case}");
        }
        let stored = h.store.find_user(&user.user_id).await.unwrap().unwrap();
        assert!(verify_password(
            &SecretString::from(STRONG.to_owned()),
            Some(&stored.password_hash)
        ));
    }
}
