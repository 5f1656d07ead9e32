//! End users: identifiers, usernames, and the profile claims OIDC Core §5.1 releases.

use std::fmt;

use super::secret::random_string;

/// A user's stable identifier: the `sub` claim (OIDC Core §2: never reassigned, at most 255 ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// A fresh random identifier (128 bits).
    pub fn generate() -> Self {
        Self(random_string(16))
    }

    /// Wrap a stored identifier.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rule a user record broke, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Normalise a username: trimmed and lower-cased, so `Alice` and `alice` are one account.
pub fn normalize_username(raw: &str) -> Result<String, UserError> {
    let username = raw.trim().to_lowercase();
    let ok = !username.is_empty()
        && username.chars().count() <= 64
        && username
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control());
    if !ok {
        return Err(UserError(
            "username must be 1-64 characters with no spaces or control characters".into(),
        ));
    }
    Ok(username)
}

/// A plausible email address (one `@`, something either side, no spaces, at most 254 characters).
pub fn check_email(raw: &str) -> Result<String, UserError> {
    let email = raw.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !valid {
        return Err(UserError(format!("'{email}' is not an email address")));
    }
    Ok(email.to_owned())
}

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `sub`.
    pub user_id: UserId,
    /// Sign-in name, normalised (`preferred_username`).
    pub username: String,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`: true when an operator set the address.
    pub email_verified: bool,
    /// `name`.
    pub name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot sign in, and their refresh tokens stop working.
    pub disabled: bool,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Last changed (Unix seconds).
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(normalize_username("  Alice ").unwrap(), "alice");
        assert!(normalize_username("").is_err());
        assert!(normalize_username("two words").is_err());
    }

    #[test]
    fn emails_are_checked_loosely() {
        assert!(check_email("a@example.com").is_ok());
        assert!(check_email("no-at-sign").is_err());
        assert!(check_email("a@b@c").is_err());
        assert!(check_email("@example.com").is_err());
    }
}
