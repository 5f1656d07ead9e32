-- OpenID Connect Back-Channel Logout 1.0.
--
-- §2.2 client metadata: where the client receives logout tokens, and whether it needs `sid` in them.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;

-- OIDC Core §2 / Back-Channel Logout §2.1 `sid`: a random, non-secret id of the signed-in browser
-- session (never the cookie value), stored beside the session so a session that has ended can be
-- told apart from one still live.
ALTER TABLE sessions ADD COLUMN sid TEXT;
CREATE INDEX sessions_sid ON sessions (sid);

-- The session an authorization code was issued in, carried to its grant (so refreshed ID tokens keep
-- the same `sid`).
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
ALTER TABLE grants ADD COLUMN sid TEXT;

-- The clients each session signed in to: written when a code of that session is redeemed, read when
-- the session (or every session of the user) ends.
CREATE TABLE session_clients (
    sid       TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_user ON session_clients (user_id);

-- The outbox of logout tokens: one row per (session, client) to notify, written in the same
-- transaction that ends the sessions, and delivered by whichever server instance claims it first
-- (`next_attempt_at` doubles as the claim's lease). `jti` stays the same across retries.
CREATE TABLE logout_deliveries (
    jti             TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    sub             TEXT NOT NULL,
    sid             TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);
