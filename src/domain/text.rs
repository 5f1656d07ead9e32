//! Free text an operator gives (display names, descriptions): trimmed, length-bounded, and never
//! holding control characters, so nothing a terminal or a database would misread is stored; and
//! the name rule of roles and groups.

/// `raw` trimmed, 1 to `max` characters, with no control characters (NUL, newlines, escapes…).
/// `Err` says what is wrong, naming `what`.
pub fn plain_text(raw: &str, what: &str, max: usize) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(format!("{what} must be 1-{max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// The longest role or group name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// A name rule shared by roles and groups: 1-64 characters of `A-Z a-z 0-9 . _ - :`.
pub(crate) fn check_name(raw: &str, what: &str) -> Result<String, NameError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_NAME_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if !ok {
        let shown: String = raw
            .chars()
            .take(MAX_NAME_LEN)
            .filter(|c| !c.is_control())
            .collect();
        return Err(NameError(format!(
            "'{shown}' is not a valid {what} name: use 1-{MAX_NAME_LEN} characters of A-Z a-z 0-9 . _ - :"
        )));
    }
    Ok(raw.to_owned())
}

/// A role or group name that breaks the naming rule, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(
            plain_text("  Orders app ", "name", 200).unwrap(),
            "Orders app"
        );
        assert!(plain_text("   ", "name", 200).is_err());
        assert!(plain_text(&"x".repeat(201), "name", 200).is_err());
        for bad in ["a\u{0}b", "a\nb", "a\u{1b}[31mb", "a\u{7f}b"] {
            let err = plain_text(bad, "the name", 200).unwrap_err();
            assert!(err.contains("control characters"), "{bad:?}: {err}");
        }
    }
}
