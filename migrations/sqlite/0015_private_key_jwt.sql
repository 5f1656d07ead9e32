-- private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): a client's public keys (a
-- JSON JWK set), and the `jti` of every assertion used, kept until it expires so that an assertion
-- is accepted once, on every instance.
ALTER TABLE clients ADD COLUMN jwks TEXT;

CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    jti_hash   BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertions_expiry ON client_assertions (expires_at);
