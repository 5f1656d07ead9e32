-- APIs (resource servers, RFC 8707): an access token is issued for one of them, its `aud` being the
-- API's audience URI. Scopes may belong to one API; clients list the APIs they may ask for.
CREATE TABLE apis (
    audience         TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    access_token_ttl BIGINT,   -- seconds; NULL: --access-token-ttl
    access_token_alg TEXT,     -- NULL: --access-token-alg
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

ALTER TABLE scopes ADD COLUMN api TEXT REFERENCES apis (audience);
ALTER TABLE scopes ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX scopes_api ON scopes (api);

ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';  -- JSON array of audiences
ALTER TABLE clients ADD COLUMN default_resource TEXT;

-- The APIs an authorization covers (RFC 8707 §2.1), for its code and then its grant's refreshes.
ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
