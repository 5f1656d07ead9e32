//! Scopes: RFC 6749 §3.3 scope tokens, scope sets, and the OIDC scopes that always exist.

use std::collections::BTreeSet;
use std::fmt;

/// The scopes present from the start, with their consent-page descriptions: the OIDC scopes (OIDC
/// Core §5.4, §11), and `roles` / `groups`, which release those claims (RFC 9068 §2.2.3.1) in ID
/// tokens and UserInfo (`groups` also in access tokens).
pub const BUILTIN_SCOPES: [(&str, &str); 6] = [
    ("openid", "Sign you in and know who you are"),
    ("profile", "Read your name and username"),
    ("email", "Read your email address"),
    ("offline_access", "Stay signed in when you are away"),
    ("roles", "See your roles"),
    ("groups", "See your groups"),
];

/// The longest scope name accepted.
pub const MAX_SCOPE_LEN: usize = 128;

/// A registered scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The scope token.
    pub name: String,
    /// What granting it allows, shown on the consent page.
    pub description: String,
    /// Whether it is one of the OIDC scopes, which cannot be deleted.
    pub builtin: bool,
    /// The API it belongs to (its tokens are for that audience), if any.
    pub api: Option<super::api::Audience>,
    /// Kept out of discovery's `scopes_supported`.
    pub hidden: bool,
    /// When it was created.
    pub created_at: i64,
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_SCOPE_LEN
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A set of scope tokens (RFC 6749 §3.3: space-delimited, order does not matter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

/// A scope string that is not a list of RFC 6749 §3.3 scope tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid scope token (RFC 6749 §3.3)")]
pub struct InvalidScope(pub String);

/// Scopes beyond what may be granted (space-delimited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not allowed: {0}")]
pub struct ScopeExceeded(pub String);

impl ScopeSet {
    /// Parse a space-delimited scope string (RFC 6749 §3.3); duplicate tokens collapse.
    pub fn parse(raw: &str) -> Result<Self, InvalidScope> {
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(InvalidScope(token.chars().take(MAX_SCOPE_LEN).collect()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope here is also in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// RFC 6749 §3.3, §6: a requested scope must lie within what may be granted (the client's allowed
    /// scopes, or a grant's original scope when refreshing). `Err` names the scopes beyond it.
    pub fn ensure_within(&self, allowed: &ScopeSet) -> Result<(), ScopeExceeded> {
        if self.is_subset(allowed) {
            return Ok(());
        }
        Err(ScopeExceeded(
            self.difference(allowed).collect::<Vec<_>>().join(" "),
        ))
    }

    /// The scopes of `self` that are not in `other`.
    pub fn difference<'a>(&'a self, other: &'a ScopeSet) -> impl Iterator<Item = &'a str> {
        self.0.difference(&other.0).map(String::as_str)
    }
}

impl FromIterator<String> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_delimited_scopes_and_collapses_repeats() {
        let set = ScopeSet::parse("openid  email openid").unwrap();
        assert_eq!(set.to_string(), "email openid");
        assert!(set.contains("openid"));
    }

    #[test]
    fn refuses_characters_outside_nqchar() {
        assert!(ScopeSet::parse("good bad\"quote").is_err());
        assert!(ScopeSet::parse("back\\slash").is_err());
        assert!(ScopeSet::parse("tab\there").is_err());
        assert!(ScopeSet::parse("orders:read").is_ok());
    }

    #[test]
    fn subset_and_difference() {
        let wide = ScopeSet::parse("a b c").unwrap();
        let narrow = ScopeSet::parse("a c").unwrap();
        assert!(narrow.is_subset(&wide));
        assert!(!wide.is_subset(&narrow));
        assert_eq!(wide.difference(&narrow).collect::<Vec<_>>(), vec!["b"]);
        assert!(narrow.ensure_within(&wide).is_ok());
        assert_eq!(wide.ensure_within(&narrow), Err(ScopeExceeded("b".into())));
    }
}
