-- Dynamic client registration (RFC 7591) and its management (RFC 7592).
--
-- Initial access tokens (RFC 7591 §3): created by an operator, stored only as SHA-256 hashes, each
-- usable until expires_at (NULL: no expiry) for at most max_uses registrations (NULL: no limit).
CREATE TABLE registration_tokens (
    token_id   TEXT PRIMARY KEY NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    max_uses   BIGINT,
    uses       BIGINT NOT NULL DEFAULT 0
);

-- The registration access token (RFC 7592 §3) of each dynamically registered client, as a hash; it
-- goes with its client.
CREATE TABLE client_registrations (
    client_id         TEXT PRIMARY KEY NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    access_token_hash BYTEA NOT NULL UNIQUE,
    token_id          TEXT,
    created_at        BIGINT NOT NULL
);
