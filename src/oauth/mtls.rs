//! Mutual-TLS (RFC 8705): what names a `tls_client_auth` client in its certificate (§2.1.2), the
//! certificate of a `self_signed_tls_client_auth` client (§2.2), the certificate thumbprint a token
//! is bound to (§3.1), and the check of a certificate-bound token at a protected resource (§3).

use std::net::IpAddr;

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

use crate::domain::client::TlsSubject;
use crate::error::OAuthError;

/// The short names of RFC 4514 §3 (and the common ones of RFC 4519), by OID; any other attribute
/// type is compared by its dotted OID.
const ATTRIBUTE_NAMES: [(&str, &str); 14] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "TITLE"),
    ("2.5.4.42", "GIVENNAME"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("1.2.840.113549.1.9.1", "EMAILADDRESS"),
];

/// One attribute of a DN, normalised for comparison: the type's short name (or dotted OID) in upper
/// case, the value trimmed, inner whitespace collapsed, in lower case (RFC 4517 §4.2.15
/// distinguishedNameMatch, with the case-ignoring string match most attribute types use).
type Attribute = (String, String);

fn normalise_value(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn normalise_type(raw: &str) -> String {
    let raw = raw.trim();
    let oid = raw
        .strip_prefix("OID.")
        .or_else(|| raw.strip_prefix("oid."))
        .unwrap_or(raw);
    ATTRIBUTE_NAMES
        .iter()
        .find(|(dotted, _)| *dotted == oid)
        .map_or_else(|| oid.to_uppercase(), |(_, name)| (*name).to_owned())
}

/// The certificate's subject in RFC 4514 order (the last RDN first), each RDN's attributes sorted.
fn certificate_dn(name: &X509Name<'_>) -> Option<Vec<Vec<Attribute>>> {
    let mut rdns = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attributes = Vec::new();
        for attribute in rdn.iter() {
            let value = attribute.as_str().ok()?;
            attributes.push((
                normalise_type(&attribute.attr_type().to_id_string()),
                normalise_value(value),
            ));
        }
        attributes.sort();
        rdns.push(attributes);
    }
    rdns.reverse();
    Some(rdns)
}

/// Split `s` on `separator` where it is not escaped with a backslash (RFC 4514 §2.4).
fn split_unescaped(s: &str, separator: char) -> Vec<String> {
    let (mut parts, mut current, mut escaped) = (Vec::new(), String::new(), false);
    for c in s.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if escaped {
        current.push('\\');
    }
    parts.push(current);
    parts
}

/// RFC 4514 §3: undo a value's escapes (`\,`, `\+`, `\\`, … and `\XX` hex pairs); `None` for a
/// malformed escape or the `#`-hex form (not compared).
fn unescape(value: &str) -> Option<String> {
    if value.trim_start().starts_with('#') {
        return None;
    }
    let mut bytes = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        let next = chars.next()?;
        if next.is_ascii_hexdigit() {
            let low = chars.next()?;
            let pair = format!("{next}{low}");
            bytes.push(u8::from_str_radix(&pair, 16).ok()?);
        } else {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(next.encode_utf8(&mut buffer).as_bytes());
        }
    }
    String::from_utf8(bytes).ok()
}

/// A registered RFC 4514 DN string, normalised like [`certificate_dn`].
fn registered_dn(dn: &str) -> Option<Vec<Vec<Attribute>>> {
    let mut rdns = Vec::new();
    for rdn in split_unescaped(dn, ',') {
        let mut attributes = Vec::new();
        for attribute in split_unescaped(&rdn, '+') {
            let (kind, value) = attribute.split_once('=')?;
            attributes.push((normalise_type(kind), normalise_value(&unescape(value)?)));
        }
        attributes.sort();
        rdns.push(attributes);
    }
    Some(rdns)
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// RFC 8705 §2.1.2: whether the end-entity certificate `der` carries the registered subject DN
/// (compared as RFC 4517 distinguishedNameMatch, ignoring case and extra spaces) or SAN (a dNSName
/// ignoring case, a URI or an e-mail address exactly, an IP address as an address).
pub fn names(der: &[u8], expected: &TlsSubject) -> bool {
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    if let TlsSubject::SubjectDn(dn) = expected {
        return match (certificate_dn(certificate.subject()), registered_dn(dn)) {
            (Some(presented), Some(registered)) => presented == registered,
            _ => false,
        };
    }
    let Ok(Some(sans)) = certificate.subject_alternative_name() else {
        return false;
    };
    sans.value
        .general_names
        .iter()
        .any(|name| match (expected, name) {
            (TlsSubject::SanDns(want), GeneralName::DNSName(got)) => want.eq_ignore_ascii_case(got),
            (TlsSubject::SanUri(want), GeneralName::URI(got)) => want == got,
            (TlsSubject::SanEmail(want), GeneralName::RFC822Name(got)) => want == got,
            (TlsSubject::SanIp(want), GeneralName::IPAddress(got)) => ip_of(got) == Some(*want),
            _ => false,
        })
}

/// RFC 8705 §2.2: whether `der` is the first certificate (`x5c[0]`) of one of the keys of the
/// client's JWK set, byte for byte.
pub fn registered_in(der: &[u8], keys: &JwkSet) -> bool {
    keys.keys.iter().any(|key| {
        key.common
            .x509_chain
            .as_ref()
            .and_then(|chain| chain.first())
            .and_then(|first| STANDARD.decode(first).ok())
            .is_some_and(|registered| registered == der)
    })
}

/// RFC 8705 §3.1 `x5t#S256`: the base64url SHA-256 of the certificate's DER encoding.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der))
}

/// RFC 8705 §3: a token bound to a certificate (`bound`) is accepted only from a connection that
/// presented that very certificate (`presented`, its thumbprint); RFC 6750 §3.1 `invalid_token`
/// otherwise.
pub fn check_certificate(bound: Option<&str>, presented: Option<&str>) -> Result<(), OAuthError> {
    let Some(bound) = bound else {
        return Ok(());
    };
    let same = presented.is_some_and(|presented| {
        constant_time::verify_slices_are_equal(bound.as_bytes(), presented.as_bytes()).is_ok()
    });
    if same {
        Ok(())
    } else {
        Err(OAuthError::invalid_token(
            "the access token is bound to a client certificate this request did not present (RFC 8705 §3)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_dns_are_normalised_like_rfc_4514_strings() {
        assert_eq!(
            registered_dn("CN=Service A, O=Example\\, Inc.,C=DE"),
            Some(vec![
                vec![("CN".into(), "service a".into())],
                vec![("O".into(), "example, inc.".into())],
                vec![("C".into(), "de".into())],
            ])
        );
        assert_eq!(
            registered_dn("2.5.4.3=a+OU=b"),
            Some(vec![vec![
                ("CN".into(), "a".into()),
                ("OU".into(), "b".into())
            ]])
        );
        assert_eq!(
            registered_dn("CN=\\41b"),
            Some(vec![vec![("CN".into(), "ab".into())]])
        );
        assert!(registered_dn("no equals sign").is_none());
        assert!(registered_dn("CN=#04024869").is_none());
    }

    #[test]
    fn a_bound_token_needs_its_own_certificate() {
        let mine = certificate_thumbprint(b"certificate one");
        let other = certificate_thumbprint(b"certificate two");
        assert_eq!(mine.len(), 43);
        assert!(check_certificate(None, None).is_ok());
        assert!(check_certificate(Some(&mine), Some(&mine)).is_ok());
        assert!(check_certificate(Some(&mine), Some(&other)).is_err());
        assert!(check_certificate(Some(&mine), None).is_err());
    }
}
