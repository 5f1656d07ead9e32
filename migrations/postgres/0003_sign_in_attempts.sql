-- Sign-in attempt counters, shared by every instance (OWASP ASVS 2.2.1, NIST SP 800-63B §5.2.2).
-- One row per counter: per (username, network), per username, per network. The key is the SHA-256
-- of the counter's name, so a password typed into the username field is never stored readable.
-- A window starts at its first attempt and ends at expires_at; housekeeping deletes ended windows.
CREATE TABLE sign_in_attempts (
    counter_key BYTEA PRIMARY KEY NOT NULL,
    attempts    BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sign_in_attempts_expiry ON sign_in_attempts (expires_at);
