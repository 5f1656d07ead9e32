//! The client certificate from a TLS-terminating proxy's header (RFC 8705 §2 behind a proxy):
//! NGINX's `$ssl_client_escaped_cert` and Envoy's `x-forwarded-client-cert`, believed only from
//! `--trusted-proxy` networks.

use std::net::IpAddr;

use ipnet::IpNet;
use percent_encoding::percent_decode;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The longest header value read: a URL-encoded PEM chain of a few RSA-4096 certificates fits.
pub const MAX_PROXY_HEADER_BYTES: usize = 16 * 1024;

/// Whether `peer` lies in one of the `--trusted-proxy` networks. An IPv4 peer reached through an
/// IPv6 socket (`::ffff:a.b.c.d`) is compared as the IPv4 address it is.
pub fn is_trusted_proxy(trusted: &[IpNet], peer: IpAddr) -> bool {
    let peer = peer.to_canonical();
    trusted.iter().any(|network| network.contains(&peer))
}

/// The certificate chain (end-entity first) in a proxy's header value:
/// - NGINX `$ssl_client_escaped_cert`: the URL-encoded PEM of the client certificate;
/// - Envoy `x-forwarded-client-cert` (XFCC): `;`-separated `key=value` pairs in `,`-separated
///   elements, one per proxy; the last element is the nearest proxy's, and its `Chain` (the whole
///   chain) or else `Cert` is the URL-encoded PEM.
///
/// `Ok(None)`: the proxy says the client sent no certificate (an empty value, as NGINX sends).
/// `Err`: a value that cannot be read, with why (never the value itself, for the logs).
pub fn parse_forwarded_certificate(
    value: &[u8],
) -> Result<Option<Vec<CertificateDer<'static>>>, &'static str> {
    if value.len() > MAX_PROXY_HEADER_BYTES {
        return Err("longer than the header limit");
    }
    let value = std::str::from_utf8(value).map_err(|_| "not ASCII")?.trim();
    if value.is_empty() || value == "(null)" {
        return Ok(None);
    }
    let escaped_pem = if looks_like_pem(value) {
        value.to_owned()
    } else {
        xfcc_certificate(value)?
    };
    let pem: Vec<u8> = percent_decode(escaped_pem.as_bytes()).collect();
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "not a PEM certificate")?;
    let end_entity = chain.first().ok_or("no PEM certificate in it")?;
    webpki::EndEntityCert::try_from(end_entity).map_err(|_| "not an X.509 certificate")?;
    Ok(Some(chain))
}

fn looks_like_pem(value: &str) -> bool {
    let head = value.get(..20).unwrap_or(value).to_ascii_uppercase();
    head.starts_with("-----BEGIN") || head.starts_with("%2D%2D%2D%2D%2DBEGIN")
}

/// The `Chain` (else `Cert`) of the last XFCC element, unquoted, still URL-encoded.
fn xfcc_certificate(value: &str) -> Result<String, &'static str> {
    let elements = split_outside_quotes(value, ',')?;
    let nearest = elements.last().ok_or("an empty XFCC header")?;
    let mut cert = None;
    let mut chain = None;
    for pair in split_outside_quotes(nearest, ';')? {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err("an XFCC element that is not key=value pairs");
        };
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "cert" => &mut cert,
            "chain" => &mut chain,
            _ => continue,
        };
        *slot = Some(unquote(raw.trim()));
    }
    chain
        .or(cert)
        .ok_or("an XFCC element without Cert or Chain (set Envoy's set_current_client_cert_details cert or chain)")
}

/// Split at `separator` where it is not inside a double-quoted string (XFCC quotes values that
/// hold `,`, `;` or `=`, and escapes `"` inside them with a backslash).
fn split_outside_quotes(value: &str, separator: char) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&value[start..index]);
            start = index + c.len_utf8();
        }
    }
    if quoted {
        return Err("an unterminated quoted XFCC value");
    }
    parts.push(&value[start..]);
    Ok(parts)
}

fn unquote(raw: &str) -> String {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\""),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

    fn pem_of(names: &[&str]) -> (String, Vec<CertificateDer<'static>>) {
        let mut pem = String::new();
        let mut ders = Vec::new();
        for name in names {
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec![(*name).to_owned()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            pem.push_str(&cert.pem());
            ders.push(cert.der().clone());
        }
        (pem, ders)
    }

    /// As NGINX escapes it: spaces and newlines, and more; dashes stay.
    fn escaped(pem: &str) -> String {
        utf8_percent_encode(pem, NON_ALPHANUMERIC)
            .to_string()
            .replace("%2D", "-")
    }

    #[test]
    fn nginx_escaped_pem_and_envoy_xfcc_give_the_chain() {
        let (one, one_der) = pem_of(&["client.example"]);
        let (two, two_der) = pem_of(&["leaf.example", "intermediate.example"]);
        let nginx = escaped(&one);
        assert_eq!(
            parse_forwarded_certificate(nginx.as_bytes()).unwrap(),
            Some(one_der.clone())
        );
        let fully_escaped = utf8_percent_encode(&one, NON_ALPHANUMERIC).to_string();
        assert_eq!(
            parse_forwarded_certificate(fully_escaped.as_bytes()).unwrap(),
            Some(one_der.clone())
        );
        let xfcc = format!(
            "By=spiffe://example.org/latchkey;Hash=abc;Cert=\"{}\";Subject=\"CN=client,O=Example\";URI=spiffe://example.org/client",
            escaped(&one)
        );
        assert_eq!(
            parse_forwarded_certificate(xfcc.as_bytes()).unwrap(),
            Some(one_der.clone())
        );
        // The whole chain when given; the nearest (last) proxy's element.
        let xfcc = format!(
            "By=spiffe://outer;Cert=\"{}\",By=spiffe://latchkey;Hash=abc;Cert={};Chain=\"{}\"",
            escaped(&two),
            escaped(&one),
            escaped(&two)
        );
        assert_eq!(
            parse_forwarded_certificate(xfcc.as_bytes()).unwrap(),
            Some(two_der)
        );
    }

    #[test]
    fn an_empty_header_is_no_certificate_and_garbage_is_an_error() {
        assert_eq!(parse_forwarded_certificate(b"").unwrap(), None);
        assert_eq!(parse_forwarded_certificate(b"  ").unwrap(), None);
        for bad in [
            &b"-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----"[..],
            b"-----BEGIN%20CERTIFICATE-----%0Anot base64!%0A-----END%20CERTIFICATE-----",
            b"By=spiffe://x;Hash=abc",
            b"By=spiffe://x;Cert=\"unterminated",
            b"just some text",
            b"Cert=%2D%2D%2D",
            b"\xff\xfe",
        ] {
            assert!(
                parse_forwarded_certificate(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let (one, _) = pem_of(&["client.example"]);
        let mut huge = escaped(&one);
        while huge.len() <= MAX_PROXY_HEADER_BYTES {
            huge.push_str(&escaped(&one));
        }
        assert_eq!(
            parse_forwarded_certificate(huge.as_bytes()).unwrap_err(),
            "longer than the header limit"
        );
    }

    #[test]
    fn trust_is_decided_by_the_peer_address_and_the_configured_networks() {
        let trusted: Vec<IpNet> = ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let cases = [
            ("10.1.2.3", true),
            ("10.255.255.255", true),
            ("11.0.0.1", false),
            ("192.0.2.7", true),
            ("192.0.2.8", false),
            ("::ffff:10.9.8.7", true),
            ("::ffff:11.0.0.1", false),
            ("fd12::1", true),
            ("fe80::1", false),
            ("127.0.0.1", false),
            ("::1", false),
        ];
        for (peer, expected) in cases {
            assert_eq!(
                is_trusted_proxy(&trusted, peer.parse().unwrap()),
                expected,
                "{peer}"
            );
        }
        assert!(!is_trusted_proxy(&[], "10.0.0.1".parse().unwrap()));
    }
}
