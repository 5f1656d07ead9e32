-- The account page lists a user's browser sessions: when each signed in (its `auth_time`), and the
-- network address and User-Agent it signed in from. Copied out of the session's data on every
-- write, so they can be listed without reading (or trusting) the data of every session. Sessions
-- from before this migration show them empty until they sign in again.
ALTER TABLE sessions ADD COLUMN signed_in_at BIGINT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- Revoking a consent revokes that client's grants for the user.
CREATE INDEX grants_user_client ON grants (user_id, client_id);
