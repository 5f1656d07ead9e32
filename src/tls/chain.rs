//! Client-certificate chain validation against the `--mtls-ca` roots (RFC 8705 §2.1), for the OAuth
//! layer: the TLS layer itself accepts any chain.

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};

use super::TlsError;
use super::files::read_certificates;

/// The CA certificates client certificates may chain to (`--mtls-ca`), as trust anchors.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    anchors: Vec<TrustAnchor<'static>>,
    algorithms: &'static [&'static dyn SignatureVerificationAlgorithm],
}

impl TrustRoots {
    /// Read a PEM bundle of CA certificates; each must parse as a trust anchor.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        const WHAT: &str = "the client-certificate CA bundle (--mtls-ca)";
        let certificates = read_certificates(path, WHAT)?;
        Self::from_certificates(&certificates).map_err(|message| TlsError::Content {
            what: WHAT,
            path: path.to_owned(),
            message,
        })
    }

    /// Trust anchors from DER certificates.
    pub fn from_certificates(certificates: &[CertificateDer<'_>]) -> Result<Self, String> {
        let anchors = certificates
            .iter()
            .enumerate()
            .map(|(index, der)| {
                webpki::anchor_from_trusted_cert(der)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|err| {
                        format!("certificate {} is not usable as a CA ({err})", index + 1)
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            anchors,
            algorithms: rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms
                .all,
        })
    }

    /// How many CA certificates are trusted.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether no CA is trusted.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// RFC 8705 §2.1 (PKI method): whether `chain` (end-entity first, then any intermediates, as the
/// client presented it) builds a valid path to one of `roots` at `now` (seconds since the epoch):
/// signatures on aws-lc-rs, validity periods, CA basic constraints, name constraints, and the
/// client-authentication extended key usage (RFC 5280 §4.2.1.12, when the certificate has the
/// extension). Revocation is not checked. An empty chain or an unparsable certificate is `false`.
pub fn chains_to(
    chain: &[CertificateDer<'_>],
    roots: &TrustRoots,
    now: crate::clock::UnixTime,
) -> bool {
    let Some((end_entity, intermediates)) = chain.split_first() else {
        return false;
    };
    let Ok(end_entity) = webpki::EndEntityCert::try_from(end_entity) else {
        return false;
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    end_entity
        .verify_for_usage(
            roots.algorithms,
            &roots.anchors,
            intermediates,
            time,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    use time::OffsetDateTime;

    const JAN_2030: i64 = 1_893_456_000;

    struct Ca {
        der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().clone();
        Ca {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    fn params(eku: ExtendedKeyUsagePurpose, not_after_year: i32) -> CertificateParams {
        let mut params = CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        params.extended_key_usages = vec![eku];
        params.not_before = OffsetDateTime::from_unix_timestamp(JAN_2030 - 86_400 * 365).unwrap();
        params.not_after = time::Date::from_calendar_date(not_after_year, time::Month::January, 1)
            .unwrap()
            .midnight()
            .assume_utc();
        params
    }

    fn leaf(issuer: &Ca, eku: ExtendedKeyUsagePurpose) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        params(eku, 2031)
            .signed_by(&key, &issuer.issuer)
            .unwrap()
            .der()
            .clone()
    }

    fn roots(ca: &Ca) -> TrustRoots {
        TrustRoots::from_certificates(std::slice::from_ref(&ca.der)).unwrap()
    }

    #[test]
    fn chains_to_by_rfc_8705_section_2_1() {
        let ca_a = ca("CA A");
        let ca_b = ca("CA B");
        let intermediate = {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "Intermediate");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate().unwrap();
            let der = params.signed_by(&key, &ca_a.issuer).unwrap().der().clone();
            Ca {
                der,
                issuer: Issuer::new(params, key),
            }
        };
        let client = leaf(&ca_a, ExtendedKeyUsagePurpose::ClientAuth);
        let via_intermediate = leaf(&intermediate, ExtendedKeyUsagePurpose::ClientAuth);
        let server_only = leaf(&ca_a, ExtendedKeyUsagePurpose::ServerAuth);
        let self_signed = {
            let key = KeyPair::generate().unwrap();
            params(ExtendedKeyUsagePurpose::ClientAuth, 2031)
                .self_signed(&key)
                .unwrap()
                .der()
                .clone()
        };
        let (roots_a, roots_b) = (roots(&ca_a), roots(&ca_b));
        let cases: Vec<(&str, Vec<CertificateDer<'static>>, &TrustRoots, i64, bool)> = vec![
            (
                "§2.1: signed by the CA",
                vec![client.clone()],
                &roots_a,
                JAN_2030,
                true,
            ),
            (
                "§2.1: through an intermediate the client sent",
                vec![via_intermediate.clone(), intermediate.der.clone()],
                &roots_a,
                JAN_2030,
                true,
            ),
            (
                "§2.1: intermediate missing",
                vec![via_intermediate],
                &roots_a,
                JAN_2030,
                false,
            ),
            (
                "§2.1: another CA",
                vec![client.clone()],
                &roots_b,
                JAN_2030,
                false,
            ),
            (
                "§2.1: expired (RFC 5280 §4.1.2.5)",
                vec![client.clone()],
                &roots_a,
                JAN_2030 + 2 * 86_400 * 366,
                false,
            ),
            (
                "§2.1: not yet valid",
                vec![client],
                &roots_a,
                JAN_2030 - 2 * 86_400 * 366,
                false,
            ),
            (
                "§2.2 certificates are self-signed: no chain",
                vec![self_signed],
                &roots_a,
                JAN_2030,
                false,
            ),
            (
                "RFC 5280 §4.2.1.12: a server-only EKU",
                vec![server_only],
                &roots_a,
                JAN_2030,
                false,
            ),
            ("empty chain", vec![], &roots_a, JAN_2030, false),
            (
                "garbage",
                vec![CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])],
                &roots_a,
                JAN_2030,
                false,
            ),
        ];
        for (name, chain, roots, now, expected) in cases {
            assert_eq!(chains_to(&chain, roots, now), expected, "{name}");
        }
    }

    #[test]
    fn a_bundle_that_is_not_a_ca_certificate_is_refused() {
        let err =
            TrustRoots::from_certificates(&[CertificateDer::from(vec![1, 2, 3])]).unwrap_err();
        assert!(err.contains("certificate 1"), "{err}");
    }
}
