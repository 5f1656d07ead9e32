-- Second factors (issue 14). A user's TOTP secret (RFC 6238), sealed with the key-encryption key
-- (AES-256-GCM: nonce || ciphertext || tag, bound to the user id). Unconfirmed until a first valid
-- code; last_step is the last time step a code was accepted for (RFC 6238 §5.2: each code once).
CREATE TABLE user_totp (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
-- Single-use recovery codes, only as SHA-256 digests (each code carries 80 random bits).
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
