-- Indexes for housekeeping's DELETEs (`housekeep` in src/store/shared/grants.rs), so a pass reads
-- only the rows it deletes instead of scanning tables that grow with traffic. Found by the query
-- plan test (tests/api/query_plans.rs).

-- `DELETE FROM refresh_tokens WHERE rotated_at IS NOT NULL AND rotated_at < $1`: spent refresh
-- tokens past the reuse-detection horizon. Partial: most tokens were never rotated.
CREATE INDEX refresh_tokens_rotated ON refresh_tokens (rotated_at) WHERE rotated_at IS NOT NULL;

-- `DELETE FROM passkey_ceremonies WHERE expires_at <= $1`: ceremonies begun and never finished.
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

-- `DELETE FROM logout_deliveries WHERE created_at <= $1`: undelivered logout tokens past retention.
CREATE INDEX logout_deliveries_created ON logout_deliveries (created_at);

-- `DELETE FROM registration_tokens WHERE expires_at IS NOT NULL AND expires_at <= $1`: expired
-- initial access tokens. Partial: tokens without an expiry are never deleted by housekeeping.
CREATE INDEX registration_tokens_expiry ON registration_tokens (expires_at) WHERE expires_at IS NOT NULL;
