//! What the account page shows a signed-in user about themselves: their browser sessions (where and
//! when each signed in) and the applications they have connected. Plain values: never a session id,
//! a token or a secret.

use crate::domain::secret::TokenHash;
use crate::domain::user::UserId;

/// A browser session as the store writes it: the SHA-256 of its id (never the id itself), its
/// signed-in user and `sid`, where it signed in from, its values, and when it expires.
#[derive(Clone, Copy)]
pub struct SessionRecord<'a> {
    /// The SHA-256 of the session's id.
    pub id_hash: &'a TokenHash,
    /// The signed-in user, if anyone has signed in.
    pub user_id: Option<&'a UserId>,
    /// The sign-in's `sid` (OIDC Back-Channel Logout §2.1).
    pub sid: Option<&'a str>,
    /// Where it signed in from.
    pub device: &'a SessionDevice,
    /// Its values, serialised.
    pub data: &'a [u8],
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// Where a browser session signed in from, recorded at sign-in and kept beside the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDevice {
    /// When the session last authenticated (OIDC Core §2 `auth_time`).
    pub signed_in_at: Option<i64>,
    /// The network address of the request that signed in.
    pub address: Option<String>,
    /// The User-Agent of the request that signed in, made printable and bounded by
    /// [`user_agent_text`].
    pub user_agent: Option<String>,
}

/// One live browser session of a user, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// The session's `sid` (OIDC Back-Channel Logout §2.1): random and not a credential, so it can
    /// name the session in a form. `None` for a session signed in before `sid`s existed.
    pub sid: Option<String>,
    /// Where and when it signed in.
    pub device: SessionDevice,
    /// When it expires unless used again.
    pub expires_at: i64,
}

/// An application (client) a user has connected: one they consented to, or one holding a live grant
/// of theirs (a first-party client that skips consent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    /// The client's `client_id`.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The scopes consented to (or, without a consent, of its newest live grant), space-delimited.
    pub scope: String,
    /// When the user consented, if they did.
    pub consented_at: Option<i64>,
}

/// What revoking a user's consent to a client ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsentRevocation {
    /// Whether a consent was deleted.
    pub consent: bool,
    /// How many grants (with their refresh and access tokens) were revoked.
    pub grants: u64,
}

/// The longest User-Agent kept, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// A User-Agent header as it may be stored and shown: control characters dropped, whitespace runs
/// folded, at most [`MAX_USER_AGENT_CHARS`] characters; `None` when nothing printable is left.
pub fn user_agent_text(raw: &str) -> Option<String> {
    let text = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text: String = text.chars().take(MAX_USER_AGENT_CHARS).collect();
    (!text.is_empty()).then_some(text)
}

/// A short name for the browser and system a User-Agent names ("Firefox on Linux"), for people to
/// recognise their sessions by; `None` when it names neither. Only shown, never trusted.
pub fn device_name(user_agent: &str) -> Option<String> {
    let has = |needle: &str| user_agent.contains(needle);
    // Most specific first: Edge and Opera say "Chrome", Chrome says "Safari", Android says "Linux",
    // and iOS says "like Mac OS X".
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(needle, _)| has(needle))
    .map(|(_, name)| name);
    let system = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(needle, _)| has(needle))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (Some(browser), None) => Some(browser.to_owned()),
        (None, Some(system)) => Some(format!("A browser on {system}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_named_by_its_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                Some("Firefox on Linux"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                Some("Edge on Windows"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                Some("Chrome on Android"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                Some("Safari on iOS"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                Some("Safari on macOS"),
            ),
            ("curl/8.5.0", None),
        ];
        for (user_agent, expected) in cases {
            assert_eq!(device_name(user_agent).as_deref(), expected, "{user_agent}");
        }
    }

    #[test]
    fn a_user_agent_is_printable_and_bounded() {
        assert_eq!(
            user_agent_text("Mozilla/5.0\u{0}\r\n  (X11;\tLinux)").as_deref(),
            Some("Mozilla/5.0 (X11; Linux)")
        );
        assert_eq!(user_agent_text(" \u{7}\n"), None);
        let long = "a".repeat(1000);
        assert_eq!(
            user_agent_text(&long).map(|t| t.chars().count()),
            Some(MAX_USER_AGENT_CHARS)
        );
    }
}
