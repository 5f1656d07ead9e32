-- Mutual-TLS client authentication (RFC 8705 §2.1.2): what names a `tls_client_auth` client in its
-- certificate: the field (subject_dn, san_dns, san_uri, san_ip or san_email) and the value expected.
ALTER TABLE clients ADD COLUMN tls_subject_kind TEXT;
ALTER TABLE clients ADD COLUMN tls_subject_value TEXT;
