-- Reference (opaque) access tokens for APIs created `--token-format opaque`: the token is
-- `lk_at_` + 256 random bits, stored only as its SHA-256, with the claims a JWT would carry; it is
-- valid only through introspection and is revoked at once.
ALTER TABLE apis ADD COLUMN token_format TEXT NOT NULL DEFAULT 'jwt';

-- A resource server's own client: it may introspect the tokens whose audience is its API.
ALTER TABLE clients ADD COLUMN api TEXT;

CREATE TABLE reference_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    jti        TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    claims     TEXT NOT NULL,  -- the access token's claims, JSON
    expires_at INTEGER NOT NULL
);
CREATE INDEX reference_tokens_expiry ON reference_tokens (expires_at);
