//! Checking a user's credentials on the sign-in page: the attempt is reserved in the throttle first
//! (OWASP ASVS 2.2.1), the password is verified with argon2id on the bounded pool (an unknown
//! username costs the same, against a dummy hash), and only an active user signs in.

use std::net::IpAddr;

use secrecy::SecretString;

use super::throttle::{self, Admission};
use crate::domain::password::verify_password;
use crate::domain::user::{User, normalize_username};
use crate::password_pool::PasswordSlots;
use crate::store::{Store, StoreError};

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many attempts for this username or network: try again after `retry_after` seconds.
    Throttled {
        /// Seconds until an attempt is allowed again.
        retry_after: i64,
    },
    /// An unknown username or a wrong password (never told apart).
    WrongCredentials,
    /// The right password for a disabled account.
    Disabled,
    /// Every password checker is busy; the attempt still counted.
    Busy,
}

/// Check `username` and `password`, presented from `address` at `now`.
pub async fn check_credentials(
    store: &dyn Store,
    passwords: &PasswordSlots,
    username: &str,
    password: SecretString,
    address: IpAddr,
    now: i64,
) -> Result<Result<User, Refusal>, StoreError> {
    let username = normalize_username(username).unwrap_or_default();
    let attempt = match throttle::admit(store, &username, address, now).await? {
        Admission::Admitted(attempt) => attempt,
        Admission::Refused { retry_after } => return Ok(Err(Refusal::Throttled { retry_after })),
    };
    let user = if username.is_empty() {
        None
    } else {
        store.find_user_by_username(&username).await?
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let Ok(verified) = passwords
        .run(move || verify_password(&password, stored.as_deref()))
        .await
    else {
        return Ok(Err(Refusal::Busy));
    };
    let user = match user {
        Some(user) if verified => user,
        _ => return Ok(Err(Refusal::WrongCredentials)),
    };
    // The user is active: a disabled account signs in to nothing (its attempt stays counted).
    if user.disabled {
        return Ok(Err(Refusal::Disabled));
    }
    if let Err(err) = attempt.succeeded(store).await {
        // The sign-in stands; the attempt merely stays counted until its window ends.
        tracing::warn!(error = %err, "could not give back a successful sign-in attempt");
    }
    Ok(Ok(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password::hash_password;
    use crate::oauth::testing::{Harness, NOW};

    const RIGHT: &str = "correct horse battery staple";

    fn outcome(result: Result<User, Refusal>) -> String {
        match result {
            Ok(user) => format!("signed in as {}", user.username),
            Err(refusal) => format!("{refusal:?}"),
        }
    }

    #[tokio::test]
    async fn credential_rules() {
        let h = Harness::new(&[]).await;
        let passwords = PasswordSlots::new(1);
        let hash = hash_password(&SecretString::from(RIGHT.to_owned())).unwrap();
        for (name, disabled) in [("alice", false), ("carol", true)] {
            let mut user = h.user(name).await;
            user.password_hash = hash.clone();
            user.disabled = disabled;
            h.store.delete_user(&user.user_id, h.now).await.unwrap();
            h.store.create_user(&user).await.unwrap();
        }
        let home: IpAddr = "192.0.2.1".parse().unwrap();
        // (case, username, password, address, expected)
        let cases = [
            (
                "the right password",
                "alice",
                RIGHT,
                home,
                "signed in as alice",
            ),
            (
                "usernames are case-insensitive",
                " ALICE ",
                RIGHT,
                home,
                "signed in as alice",
            ),
            (
                "a wrong password",
                "alice",
                "wrong",
                home,
                "WrongCredentials",
            ),
            (
                "an unknown user looks the same",
                "mallory",
                RIGHT,
                home,
                "WrongCredentials",
            ),
            (
                "a disabled user with the right password",
                "carol",
                RIGHT,
                home,
                "Disabled",
            ),
        ];
        for (case, username, password, address, expected) in cases {
            let result = check_credentials(
                h.store.as_ref(),
                &passwords,
                username,
                SecretString::from(password.to_owned()),
                address,
                NOW,
            )
            .await
            .unwrap();
            assert_eq!(outcome(result), expected, "{case}");
        }
    }

    #[tokio::test]
    async fn the_attempt_is_reserved_before_the_password_is_checked() {
        let h = Harness::new(&[]).await;
        let passwords = PasswordSlots::new(1);
        let mut user = h.user("alice").await;
        user.password_hash = hash_password(&SecretString::from(RIGHT.to_owned())).unwrap();
        h.store.delete_user(&user.user_id, h.now).await.unwrap();
        h.store.create_user(&user).await.unwrap();
        let address: IpAddr = "2001:db8::1".parse().unwrap();
        let attempt = |password: &str| {
            check_credentials(
                h.store.as_ref(),
                &passwords,
                "alice",
                SecretString::from(password.to_owned()),
                address,
                NOW,
            )
        };
        for _ in 0..throttle::MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK {
            assert_eq!(
                attempt("wrong").await.unwrap().err(),
                Some(Refusal::WrongCredentials)
            );
        }
        // ASVS 2.2.1: past the limit even the right password is refused, without an argon2 check.
        assert!(matches!(
            attempt(RIGHT).await.unwrap(),
            Err(Refusal::Throttled { retry_after }) if retry_after > 0
        ));
    }
}
