-- Latchkey schema, PostgreSQL. Times are Unix seconds (BIGINT); digests are raw SHA-256 bytes.

CREATE TABLE scopes (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);

INSERT INTO scopes (name, description, builtin, created_at) VALUES
    ('openid', 'Sign you in and know who you are', TRUE, 0),
    ('profile', 'Read your name and username', TRUE, 0),
    ('email', 'Read your email address', TRUE, 0),
    ('offline_access', 'Stay signed in when you are away', TRUE, 0);

CREATE TABLE clients (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    client_name               TEXT NOT NULL,
    secret_hash               BYTEA,
    auth_method               TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,  -- JSON array
    post_logout_redirect_uris TEXT NOT NULL,  -- JSON array
    grant_types               TEXT NOT NULL,  -- space-delimited
    scopes                    TEXT NOT NULL,  -- space-delimited
    require_pkce              BOOLEAN NOT NULL,
    skip_consent              BOOLEAN NOT NULL,
    introspect_any            BOOLEAN NOT NULL,
    id_token_alg              TEXT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE users (
    user_id        TEXT PRIMARY KEY NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key  BYTEA NOT NULL,  -- AES-256-GCM: nonce || ciphertext || tag
    public_jwk   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';

CREATE TABLE grants (
    grant_id   TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    auth_time  BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_expiry ON grants (expires_at);

CREATE TABLE authorization_codes (
    code_hash             BYTEA PRIMARY KEY NOT NULL,
    grant_id              TEXT NOT NULL,
    client_id             TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    auth_time             BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    consumed_at           BIGINT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash     BYTEA PRIMARY KEY NOT NULL,
    grant_id       TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    rotated_at     BIGINT,
    successor_hash BYTEA
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Revoked access tokens (by jti) and grants (by grant_id), kept until the tokens they cover expire.
CREATE TABLE revocations (
    id         TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocations_expiry ON revocations (expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    data        BYTEA NOT NULL,
    expiry_date BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry_date);
