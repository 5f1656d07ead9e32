//! Groups (RFC 9068 §2.2.3.1 `groups`): named sets of users that hold roles together.

use std::fmt;

use super::text::{NameError, check_name};

/// A group's name, as it appears in the `groups` claim (RFC 9068 §2.2.3.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(String);

impl GroupName {
    /// Parse an operator-given name (1-64 characters of `A-Z a-z 0-9 . _ - :`).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_name(raw, "group").map(Self)
    }

    /// Wrap a stored name.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its name.
    pub name: GroupName,
    /// Created (Unix seconds).
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_the_role_name_rule() {
        assert!(GroupName::parse("ops:oncall").is_ok());
        let err = GroupName::parse("no spaces").unwrap_err();
        assert!(err.0.contains("not a valid group name"), "{err}");
    }
}
