//! Free text an operator gives (display names, descriptions): trimmed, length-bounded, and never
//! holding control characters, so nothing a terminal or a database would misread is stored.

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
