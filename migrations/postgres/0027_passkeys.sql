-- Passkeys (issue 14): WebAuthn credentials, as a second factor and for passwordless sign-in.
--
-- Each user who has registered a passkey has one WebAuthn user handle (64 random bytes; WebAuthn
-- §14.6.1: not the user id, no personal data), the same for all their passkeys, so a discoverable
-- credential's user handle leads back to them.
CREATE TABLE passkey_users (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    handle  BYTEA NOT NULL UNIQUE
);
-- A registered credential: its id (unique for the RP, WebAuthn §6.5.1), and its state as
-- webauthn_rp encodes it: the public key and extensions (static), the signature counter, backup
-- and user-verification flags (dynamic, updated at each use), and the transports hinted.
CREATE TABLE passkeys (
    credential_id BYTEA PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    static_state  BYTEA NOT NULL,
    dynamic_state BYTEA NOT NULL,
    transports    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);
-- A ceremony begun and not yet finished (WebAuthn §7.1, §7.2: the challenge and options sent), by
-- the SHA-256 of a random id the browser session holds. Finishing deletes it (single use, on any
-- instance); housekeeping deletes the expired ones.
CREATE TABLE passkey_ceremonies (
    ceremony_hash BYTEA PRIMARY KEY NOT NULL,
    purpose       TEXT NOT NULL,
    user_id       TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    state         BYTEA NOT NULL,
    expires_at    BIGINT NOT NULL
);
