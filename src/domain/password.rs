//! User passwords: argon2id with the OWASP parameters, and a dummy hash so unknown users cost the same.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// The shortest password accepted: 12 characters (OWASP ASVS 4.0.3 §2.1.1; NIST SP 800-63B §5.1.1.2
/// sets 8 as the floor).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes: bounds the hashing work a request can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The weakest zxcvbn score accepted: 3, "safely unguessable" (more than 10^8 guesses), as ASVS
/// §2.1.8's strength meter and §2.1.7's check against common and breached passwords ask.
pub const MIN_STRENGTH: zxcvbn::Score = zxcvbn::Score::Three;

/// A password that breaks the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short, or empty (ASVS §2.1.1).
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Too long.
    #[error("the password must be at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// Common, or built from a predictable pattern (ASVS §2.1.7): `why` is zxcvbn's warning and
    /// suggestions, on one line.
    #[error("the password is too easy to guess: {why}")]
    Weak {
        /// What makes it weak and how to do better.
        why: String,
    },
    /// The hashing library (or the salt's randomness) failed.
    #[error("could not hash the password")]
    Hashing,
}

/// The OWASP Password Storage Cheat Sheet's argon2id parameters: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The policy for a new password (OWASP ASVS §2.1.1, §2.1.2, §2.1.7): 12 characters to 1024 bytes,
/// and not guessable (zxcvbn score of at least 3), judged also against `user_inputs` (the username,
/// email and name), so a password made of them is refused.
pub fn check_new_password(
    password: &SecretString,
    user_inputs: &[&str],
) -> Result<(), PasswordError> {
    let value = password.expose_secret();
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if value.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let estimate = zxcvbn::zxcvbn(value, user_inputs);
    if estimate.score() >= MIN_STRENGTH {
        return Ok(());
    }
    let mut why: Vec<String> = Vec::new();
    if let Some(feedback) = estimate.feedback() {
        why.extend(feedback.warning().map(|w| w.to_string()));
        why.extend(feedback.suggestions().iter().map(ToString::to_string));
    }
    if why.is_empty() {
        why.push("Add another word or two. Uncommon words are better.".to_owned());
    }
    let why = why
        .iter()
        .map(|line| line.trim().trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join("; ");
    Err(PasswordError::Weak { why })
}

/// Check the policy (with no user inputs) and hash a new password into a PHC string. CPU-heavy: call
/// off the async runtime.
pub fn hash_password(password: &SecretString) -> Result<String, PasswordError> {
    hash_new_password(password, &[])
}

/// Check the policy against the user's own details and hash a new password. CPU-heavy.
pub fn hash_new_password(
    password: &SecretString,
    user_inputs: &[&str],
) -> Result<String, PasswordError> {
    check_new_password(password, user_inputs)?;
    hash_phc(password.expose_secret())
}

/// argon2id over `value` with a fresh 128-bit salt; no policy.
fn hash_phc(value: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| PasswordError::Hashing)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hashing)?;
    argon2()
        .hash_password(value.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// The largest argon2 memory cost (KiB) a stored hash may ask for: bounds the work and memory that
/// one verification can take, whatever was written to the database.
const MAX_VERIFY_MEMORY_KIB: usize = 256 * 1024;

thread_local! {
    /// Each thread's argon2 working memory, allocated once and reused: verifications allocate nothing,
    /// so a fixed pool of threads keeps the process's memory fixed too.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Verify a password against a stored PHC string (constant-time compare). CPU-heavy.
///
/// With `None` (an unknown user) a dummy hash is checked, so the answer takes as long as a wrong password.
pub fn verify_password(password: &SecretString, stored: Option<&str>) -> bool {
    let value = password.expose_secret();
    if value.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    // A user created without a password (`latchkey apply`) has an empty hash: checked like an
    // unknown user, so the refusal takes as long.
    let stored = stored.filter(|s| !s.is_empty());
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| dummy_hash());
    verify_phc(value.as_bytes(), stored).unwrap_or(false) && known
}

fn verify_phc(password: &[u8], stored: &str) -> Option<bool> {
    let parsed = PasswordHash::new(stored).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    if params.block_count() > MAX_VERIFY_MEMORY_KIB {
        return None;
    }
    let expected = parsed.hash?;
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let mut computed = vec![0u8; expected.len()];
    let hashed = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), Block::default());
        }
        let count = params.block_count();
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, &mut computed, &mut blocks[..count])
            .is_ok()
    });
    Some(
        hashed
            && aws_lc_rs::constant_time::verify_slices_are_equal(&computed, expected.as_bytes())
                .is_ok(),
    )
}

/// What an unknown user's password is checked against, so the answer costs a full argon2id run
/// with the real parameters (OWASP: m=19456 KiB, t=2, p=1) and matches nothing. A constant, not
/// computed at start-up, so there is no fallback that could make the check instant.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0ZHVtbXk$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn dummy_hash() -> &'static str {
    DUMMY_HASH
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn the_dummy_hash_costs_a_real_check_with_the_real_parameters() {
        // It parses and runs argon2id (Some), matching nothing (false)…
        assert_eq!(verify_phc(b"anything", DUMMY_HASH), Some(false));
        // …with the same parameters as a stored hash.
        let real = hash_password(&secret("a long enough password")).unwrap();
        let params = |phc: &str| phc.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(&real), params(DUMMY_HASH));
    }

    #[test]
    fn hashes_with_argon2id_owasp_parameters_and_verifies() {
        let hash = hash_password(&secret("correct horse battery staple")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(
            &secret("correct horse battery staple"),
            Some(&hash)
        ));
        assert!(!verify_password(&secret("wrong horse"), Some(&hash)));
    }

    #[test]
    fn a_stored_hash_demanding_huge_memory_is_refused_not_computed() {
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(!verify_password(&secret("whatever"), Some(huge)));
        assert!(!verify_password(
            &secret("whatever"),
            Some("not a phc string")
        ));
    }

    #[test]
    fn unknown_users_never_verify() {
        assert!(!verify_password(
            &secret("dummy password for unknown users"),
            None
        ));
    }

    #[test]
    fn a_user_without_a_password_never_verifies() {
        // `latchkey apply` creates users with an empty hash; not even an empty password matches.
        assert!(!verify_password(&secret(""), Some("")));
        assert!(!verify_password(
            &secret("correct horse battery staple"),
            Some("")
        ));
    }

    #[test]
    fn asvs_2_1_1_passwords_under_12_characters_or_over_1024_bytes_are_refused() {
        assert_eq!(hash_password(&secret("")), Err(PasswordError::TooShort));
        assert_eq!(
            hash_password(&secret("Xq7#vLp2!mZ")),
            Err(PasswordError::TooShort),
            "11 characters, however random"
        );
        assert_eq!(
            check_new_password(&secret("ünïcödé-wörd"), &[]),
            Ok(()),
            "12 characters, counted as characters (not bytes)"
        );
        assert_eq!(
            hash_password(&secret(&"x".repeat(MAX_PASSWORD_BYTES + 1))),
            Err(PasswordError::TooLong)
        );
    }

    fn weak_reason(password: &str) -> String {
        match check_new_password(&secret(password), &[]) {
            Err(PasswordError::Weak { why }) => why,
            other => panic!("{password:?}: expected Weak, got {other:?}"),
        }
    }

    #[test]
    fn asvs_2_1_7_common_and_patterned_passwords_are_refused_with_the_reason() {
        for (password, reason) in [
            ("password1234", "common"),
            ("qwertyuiopasdf", "commonly used"),
            ("aaaaaaaaaaaaaaaa", "repeat"),
            ("abcdefghijklmnop", "sequence"),
            ("iloveyou12345", "common"),
        ] {
            let why = weak_reason(password);
            assert!(why.to_lowercase().contains(reason), "{password:?}: {why}");
            assert!(!why.contains('\n'), "one line: {why}");
            let message = PasswordError::Weak { why }.to_string();
            assert!(message.starts_with("the password is too easy to guess: "));
        }
    }

    #[test]
    fn a_password_made_of_the_users_own_details_is_refused() {
        let password = secret("wbxtkrqpzmvn1");
        assert_eq!(
            check_new_password(&password, &[]),
            Ok(()),
            "random-looking alone"
        );
        let inputs = ["wbxtkrqpzmvn", "wbxtkrqpzmvn@example.com", "Wbx Tkr"];
        assert!(matches!(
            check_new_password(&password, &inputs),
            Err(PasswordError::Weak { .. })
        ));
    }

    #[test]
    fn strong_passwords_pass_including_the_suites_test_password() {
        for password in [
            "correct horse battery staple",
            "Tr0ub4dour&3-is-not-enough",
            "vN8#qL2!xR5@wZ",
        ] {
            assert_eq!(
                check_new_password(&secret(password), &[]),
                Ok(()),
                "{password}"
            );
        }
    }
}
