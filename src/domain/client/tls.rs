//! What names a `tls_client_auth` client in its certificate (RFC 8705 §2.1.2): exactly one of the
//! subject DN or a subject alternative name of one type, with the value expected there.

use std::net::IpAddr;

use super::ClientError;

/// The five metadata fields of RFC 8705 §2.1.2, by the suffix after `tls_client_auth_`.
pub const TLS_SUBJECT_FIELDS: [&str; 5] =
    ["subject_dn", "san_dns", "san_uri", "san_ip", "san_email"];

/// The longest expected value accepted.
const MAX_VALUE_LEN: usize = 1000;

/// RFC 8705 §2.1.2: the one certificate field that names a `tls_client_auth` client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSubject {
    /// `tls_client_auth_subject_dn`: the subject DN, as an RFC 4514 string.
    SubjectDn(String),
    /// `tls_client_auth_san_dns`: a dNSName SAN.
    SanDns(String),
    /// `tls_client_auth_san_uri`: a uniformResourceIdentifier SAN.
    SanUri(String),
    /// `tls_client_auth_san_ip`: an iPAddress SAN (IPv4 or IPv6).
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`: an rfc822Name SAN.
    SanEmail(String),
}

impl TlsSubject {
    /// Parse the value given for the field `kind` (one of [`TLS_SUBJECT_FIELDS`]).
    pub fn parse(kind: &str, value: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError(format!("tls_client_auth_{kind} {why}"));
        let value = value.trim();
        if value.is_empty() || value.len() > MAX_VALUE_LEN || value.chars().any(char::is_control) {
            return Err(bad(
                "must be 1 to 1000 characters without control characters",
            ));
        }
        Ok(match kind {
            "subject_dn" => {
                if !value.contains('=') {
                    return Err(bad(
                        "must be a distinguished name such as CN=service-a,O=Example (RFC 4514)",
                    ));
                }
                Self::SubjectDn(value.to_owned())
            }
            "san_dns" => Self::SanDns(value.to_owned()),
            "san_uri" => Self::SanUri(value.to_owned()),
            "san_ip" => Self::SanIp(
                value
                    .parse()
                    .map_err(|_| bad("must be an IPv4 or IPv6 address"))?,
            ),
            "san_email" => Self::SanEmail(value.to_owned()),
            other => {
                return Err(ClientError(format!(
                    "unknown tls_client_auth field {other}"
                )));
            }
        })
    }

    /// Its field, the suffix after `tls_client_auth_`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => "subject_dn",
            Self::SanDns(_) => "san_dns",
            Self::SanUri(_) => "san_uri",
            Self::SanIp(_) => "san_ip",
            Self::SanEmail(_) => "san_email",
        }
    }

    /// The expected value, as registered.
    pub fn value(&self) -> String {
        match self {
            Self::SubjectDn(v) | Self::SanDns(v) | Self::SanUri(v) | Self::SanEmail(v) => v.clone(),
            Self::SanIp(ip) => ip.to_string(),
        }
    }

    /// The value, when this subject is of field `kind` (for the views, one field per kind).
    pub fn field(&self, kind: &str) -> Option<String> {
        (self.kind() == kind).then(|| self.value())
    }
}

/// RFC 8705 §2.1.2: of the five fields, the one given (kind, value); two or more are refused.
pub fn tls_subject_of(fields: [Option<&str>; 5]) -> Result<Option<(String, String)>, ClientError> {
    let given: Vec<(&str, &str)> = TLS_SUBJECT_FIELDS
        .iter()
        .zip(fields)
        .filter_map(|(kind, value)| value.filter(|v| !v.trim().is_empty()).map(|v| (*kind, v)))
        .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(kind, value)] => Ok(Some(((*kind).to_owned(), (*value).to_owned()))),
        _ => Err(ClientError(
            "give exactly one of the tls_client_auth subject DN and SAN fields (RFC 8705 §2.1.2)"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_subject_field_of_a_valid_value() {
        assert_eq!(tls_subject_of([None; 5]).unwrap(), None);
        assert_eq!(
            tls_subject_of([None, Some("client.example"), None, None, None]).unwrap(),
            Some(("san_dns".into(), "client.example".into()))
        );
        assert!(tls_subject_of([Some("CN=a"), Some("a.example"), None, None, None]).is_err());
        assert!(TlsSubject::parse("san_ip", "10.0.0.300").is_err());
        assert_eq!(TlsSubject::parse("san_ip", "::1").unwrap().value(), "::1");
        assert!(TlsSubject::parse("subject_dn", "service-a").is_err());
        assert!(TlsSubject::parse("san_dns", "a\nb").is_err());
    }
}
