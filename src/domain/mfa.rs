//! Second factors: TOTP (RFC 6238) codes from an authenticator app, and single-use recovery codes.
//! Pure: the secret is sealed and stored by the callers, the time is passed in.

use aws_lc_rs::rand;
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Secret};

use super::secret::TokenHash;
use super::user::UserId;

/// RFC 6238 §4: the time step, in seconds (§5.2 recommends 30).
pub const TOTP_STEP: i64 = 30;
/// Digits of a code (RFC 4226 §5.3: at least 6).
pub const TOTP_DIGITS: u8 = 6;
/// RFC 6238 §5.2: one step either side is accepted, for clocks that drift and codes typed slowly.
const TOTP_SKEW: u16 = 1;
/// RFC 4226 §4 R6: the shared secret is at least 128 bits; 160 is recommended.
const SECRET_BYTES: usize = 20;
/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code: 16 from a 32-letter alphabet, 80 bits, so a stolen table of their
/// SHA-256 digests cannot be reversed by trying them all.
const RECOVERY_CODE_CHARS: usize = 16;
/// Crockford's base32 alphabet: no I, L, O or U, so codes read aloud or copied by hand survive.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A user's TOTP factor as stored: the secret sealed with the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// Whose.
    pub user_id: UserId,
    /// The secret, sealed (AES-256-GCM, bound to the user id).
    pub sealed_secret: Vec<u8>,
    /// When a first valid code confirmed it; until then it is not a factor.
    pub confirmed_at: Option<i64>,
    /// RFC 6238 §5.2: the last time step a code was accepted for; only later ones are accepted.
    pub last_step: i64,
    /// When enrolment began.
    pub created_at: i64,
}

/// A new TOTP secret: 160 random bits.
pub fn new_totp_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    // AWS-LC's RAND_bytes aborts the process rather than return failure, so this is always Ok.
    let _ = rand::fill(&mut secret);
    secret
}

/// The secret as an authenticator app takes it typed in: base32 (RFC 4648 §6), no padding.
pub fn totp_secret_text(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

/// The secret as a person reads it off the page: base32 in groups of four (apps ignore the spaces).
pub fn totp_secret_grouped(secret: &[u8]) -> String {
    let text = totp_secret_text(secret);
    let groups: Vec<&str> = text
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    groups.join(" ")
}

/// The `otpauth://` URI authenticator apps read from the QR code (the Key Uri Format of Google
/// Authenticator, which every app follows): the label `issuer:account`, the secret, and the
/// parameters spelled out even where they are the defaults.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP}",
        enc(issuer),
        enc(account),
        totp_secret_text(secret),
        enc(issuer),
    )
}

/// `uri` as a QR code: an `<svg>` element to put in the page as it is (no script, no image request).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let document = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The renderer writes a whole SVG document; inside HTML only its element belongs.
    let start = document.find("<svg")?;
    Some(document[start..].to_owned())
}

fn totp(secret: &[u8]) -> Option<totp_rs::Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_skew(TOTP_SKEW)
        .with_step_duration(TOTP_STEP.unsigned_abs())
        .with_secret(secret.to_vec())
        .build()
        .ok()
}

/// The time step whose code `code` is, within one step of `now` (RFC 6238 §5.2), if any. Spaces in
/// the code are ignored. The caller accepts the step only if it is later than the last one used.
pub fn totp_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now).ok()?;
    let step = totp(secret)?.check(&code, now)?;
    i64::try_from(step).ok()
}

/// The code for `step` (for tests, which play the authenticator app).
pub fn totp_code(secret: &[u8], now: i64) -> Option<String> {
    Some(totp(secret)?.generate(u64::try_from(now).ok()?).to_string())
}

/// Fresh recovery codes, formatted for reading (`XXXX-XXXX-XXXX-XXXX`), and their digests to store.
pub fn new_recovery_codes() -> (Vec<String>, Vec<TokenHash>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_CODE_CHARS];
            let _ = rand::fill(&mut bytes);
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b % 32)]))
                .collect();
            let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
            let code = groups.join("-");
            let hash = recovery_code_hash(&code);
            (code, hash)
        })
        .unzip()
}

/// The digest a typed recovery code is looked up by: case, spaces and dashes do not matter, and the
/// letters Crockford's alphabet leaves out are read as the digits they look like.
pub fn recovery_code_hash(typed: &str) -> TokenHash {
    let canonical: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    TokenHash::of(&canonical)
}

/// Whether `typed` looks like a recovery code rather than a TOTP code.
pub fn looks_like_recovery_code(typed: &str) -> bool {
    typed.chars().filter(|c| c.is_ascii_alphanumeric()).count() == RECOVERY_CODE_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 test secret and the 8-digit codes' last six digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_are_those_of_rfc_6238_appendix_b() {
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp_code(RFC_SECRET, time).unwrap(), code, "at {time}");
            assert_eq!(totp_step(RFC_SECRET, code, time), Some(time / TOTP_STEP));
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let secret = new_totp_secret();
        let now = 1_800_000_000;
        let code = totp_code(&secret, now).unwrap();
        let step = now / TOTP_STEP;
        assert_eq!(totp_step(&secret, &code, now + TOTP_STEP), Some(step));
        assert_eq!(totp_step(&secret, &code, now - TOTP_STEP), Some(step));
        assert_eq!(totp_step(&secret, &code, now + 2 * TOTP_STEP), None);
        assert_eq!(
            totp_step(&secret, &format!("{} {}", &code[..3], &code[3..]), now),
            Some(step)
        );
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(totp_step(&secret, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_enrolment_uri_and_qr_code_carry_the_secret() {
        let secret = RFC_SECRET;
        let uri = otpauth_uri("id.example.com", "alice", secret);
        assert_eq!(
            uri,
            "otpauth://totp/id%2Eexample%2Ecom:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=id%2Eexample%2Ecom&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_80_bit_codes_read_forgivingly() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        assert!(looks_like_recovery_code(code));
        assert!(!looks_like_recovery_code("123456"));
        assert_eq!(recovery_code_hash(code), hashes[0]);
        let typed = code.replace('-', " ").to_lowercase();
        assert_eq!(recovery_code_hash(&typed), hashes[0]);
        assert_eq!(
            recovery_code_hash("0000-1111-2222-3333"),
            recovery_code_hash("oooo-iiii-2222-3333")
        );
    }
}
