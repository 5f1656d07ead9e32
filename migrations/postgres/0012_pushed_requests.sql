-- Pushed authorization requests (RFC 9126): the parameters a client pushed, found by the SHA-256 of
-- their request_uri, bound to that client, used once, and expired after 60 s.
CREATE TABLE pushed_requests (
    request_hash BYTEA PRIMARY KEY NOT NULL,
    client_id    TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    params       TEXT NOT NULL,  -- the authorization request's parameters, a JSON object
    expires_at   BIGINT NOT NULL
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
