-- client_secret_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): the server must check an
-- HMAC made with the client's secret, so for these clients (and only these) the secret is also kept
-- sealed (AES-256-GCM under the key-encryption key, the client id as associated data), beside its
-- SHA-256 digest.
ALTER TABLE clients ADD COLUMN sealed_secret BYTEA;
