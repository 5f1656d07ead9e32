-- The device authorization grant (RFC 8628): one row per request from a device, found by the
-- SHA-256 of its device code (the token endpoint) or of its canonical user code (the /device page).
-- Approving or denying, and redeeming, are conditional UPDATEs on status.
CREATE TABLE device_authorizations (
    device_code_hash BYTEA PRIMARY KEY NOT NULL,
    user_code_hash   BYTEA NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    resources        TEXT NOT NULL,  -- JSON array of API audiences (RFC 8707)
    device_address   TEXT NOT NULL,  -- where the device asked from, shown to the user
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    poll_interval    BIGINT NOT NULL,  -- seconds; grows by 5 with each slow_down (RFC 8628 §3.5)
    last_polled_at   BIGINT,
    too_fast         BOOLEAN NOT NULL DEFAULT FALSE,  -- the last poll came too soon
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id          TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time        BIGINT
);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);
