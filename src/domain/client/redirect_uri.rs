//! Redirect URIs (RFC 6749 §3.1.2) and how a presented one is matched (RFC 8252 §7.3 for native
//! clients).

use super::{ApplicationType, ClientError};

/// A registered redirect URI (RFC 6749 §3.1.2), compared by exact string match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

/// Hosts for which plain `http` is acceptable (RFC 8252 §7.3, §8.3).
fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl RedirectUri {
    /// RFC 6749 §3.1.2: an absolute URI without a fragment. Plain `http` only for loopback hosts
    /// (RFC 8252 §7.3); other schemes only as RFC 8252 §7.1 private-use schemes (`com.example.app:`).
    pub fn parse(raw: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError(format!("redirect URI '{raw}' {why}"));
        if raw.len() > 2000 {
            return Err(ClientError(
                "redirect URI is longer than 2000 characters".into(),
            ));
        }
        // The URL parser silently drops tabs and newlines; the URI is compared as registered, so
        // refuse them (and every other control character) instead.
        if raw.chars().any(char::is_control) {
            return Err(bad("must not contain control characters"));
        }
        let url =
            url::Url::parse(raw).map_err(|e| bad(&format!("is not an absolute URI ({e})")))?;
        if raw.contains(' ') {
            return Err(bad("must not contain spaces (percent-encode them)"));
        }
        if url.fragment().is_some() || raw.contains('#') {
            return Err(bad("must not contain a fragment (RFC 6749 §3.1.2)"));
        }
        match url.scheme() {
            "https" => {}
            "http" => match url.host() {
                Some(host) if is_loopback_host(&host) => {}
                _ => return Err(bad("uses http for a host that is not loopback; use https")),
            },
            scheme if scheme.contains('.') => {} // RFC 8252 §7.1 reverse-domain private-use scheme
            _ => {
                return Err(bad(
                    "must use https, http on a loopback host, or a reverse-domain scheme",
                ));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wrap a URI read back from the store (it was validated when registered).
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The URI exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 8252 §7.1: a private-use (reverse-domain) URI scheme such as `com.example.app:/cb`.
    pub fn is_private_use_scheme(&self) -> bool {
        !self.0.starts_with("https:") && !self.0.starts_with("http:")
    }

    /// RFC 6749 §3.1.2.3: the presented URI is compared with the registered one by exact string
    /// match. For native clients only, RFC 8252 §7.3: a loopback IP-literal redirect
    /// (`http://127.0.0.1:{port}/…`, `http://[::1]:{port}/…`) matches one that differs only in the port.
    pub fn matches(&self, presented: &str, application_type: ApplicationType) -> bool {
        if self.0 == presented {
            return true;
        }
        if application_type != ApplicationType::Native {
            return false;
        }
        let (Ok(registered), Ok(presented)) =
            (url::Url::parse(&self.0), url::Url::parse(presented))
        else {
            return false;
        };
        let loopback_ip = |u: &url::Url| {
            u.scheme() == "http"
                && match u.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    _ => false,
                }
        };
        loopback_ip(&registered)
            && loopback_ip(&presented)
            && registered.host() == presented.host()
            && registered.path() == presented.path()
            && registered.query() == presented.query()
            && presented.fragment().is_none()
            && presented.username().is_empty()
            && presented.password().is_none()
    }
}
