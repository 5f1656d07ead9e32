//! The pages' CSRF protection: a signed double-submit token.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tower_cookies::Cookies;
use tower_sessions::cookie::{Cookie, SameSite};

use crate::config::Settings;
use crate::domain::secret::random_string;
use crate::keys::KeyRing;

/// The browser's CSRF cookie: a random value the pages' forms are bound to (see [`PageCsrf`]).
pub(super) const CSRF_COOKIE: &str = "latchkey_csrf";

/// The pages' CSRF protection, a signed double-submit token (OWASP CSRF Prevention Cheat Sheet,
/// "Signed Double-Submit Cookie"): the browser holds a random value in the [`CSRF_COOKIE`] cookie
/// (HttpOnly, SameSite=Lax, this issuer's path), and every form carries the HMAC-SHA256 of that
/// value and of the signed-in session's `sid`, under a key derived from the key-encryption secret.
/// A cross-site form can neither read the cookie nor sign a value it planted, and the token changes
/// with every sign-in. Showing a form writes nothing to the store, so the login page costs no
/// session, and any instance accepts a form another rendered.
pub(super) struct PageCsrf {
    pub(super) cookies: Cookies,
    pub(super) keys: Arc<KeyRing>,
    /// The issuer, whose scheme and path the cookie takes.
    pub(super) settings: Arc<Settings>,
}

impl PageCsrf {
    /// The browser's CSRF value, if it sent a well-formed one (or this response sets one).
    pub(super) fn value(&self) -> Option<String> {
        let value = self.cookies.get(CSRF_COOKIE)?.value().to_owned();
        let well_formed = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then_some(value)
    }

    /// The browser's CSRF value, set now if it has none.
    pub(super) fn value_or_set(&self) -> String {
        if let Some(value) = self.value() {
            return value;
        }
        let value = random_string(32);
        let mut cookie = Cookie::new(CSRF_COOKIE, value.clone());
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(self.settings.issuer.is_https());
        cookie.set_path(self.settings.issuer.cookie_path());
        self.cookies.add(cookie);
        value
    }

    /// The form token of `value` for a session signed in as `sid` (empty before sign-in).
    pub(super) fn token(&self, value: &str, sid: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.keys.kek().csrf_tag(value, sid))
    }
}
