-- Browser sessions keyed by the SHA-256 of their id (the cookie value is never stored) and linked to
-- the signed-in user (NULL while nobody has signed in), so that a password change, disabling a user
-- or `latchkey user revoke-sessions` can end all of a user's sessions at once.
--
-- Existing sessions are dropped rather than converted (their data held the plain id): everyone signs
-- in again once after this upgrade.
DROP TABLE sessions;

CREATE TABLE sessions (
    id_hash     BLOB PRIMARY KEY NOT NULL,
    user_id     TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    data        BLOB NOT NULL,
    expiry_date INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry_date);
CREATE INDEX sessions_user ON sessions (user_id);

-- Signing a user out deletes their unredeemed codes.
CREATE INDEX authorization_codes_user ON authorization_codes (user_id);
