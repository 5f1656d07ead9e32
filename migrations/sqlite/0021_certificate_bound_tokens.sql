-- Certificate-bound access tokens (RFC 8705 §3).
--
-- §3.4 `tls_client_certificate_bound_access_tokens`: the client's access tokens carry the
-- thumbprint of the certificate it connected with (`cnf.x5t#S256`).
ALTER TABLE clients ADD COLUMN tls_bound_tokens INTEGER NOT NULL DEFAULT 0;

-- §4: a public client's refresh tokens are bound to that certificate too (its thumbprint).
ALTER TABLE grants ADD COLUMN cert_thumbprint TEXT;
