-- The revocation cache (README "How revocation propagates"): each instance keeps the revocations in
-- memory and reads only what changed since its last look. Every revocation record carries `seq`,
-- the id of the transaction that last wrote it (xid8, which only grows). A reader takes the oldest
-- transaction still in progress (`pg_snapshot_xmin`) as its next starting point: every record below
-- it is committed and already seen, and one written by a transaction still open is read next time,
-- whatever order transactions commit in (a plain sequence number can be committed out of order).
-- Rows that exist before this migration get 0: the fill at start-up reads every row anyway.
ALTER TABLE revocations ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX revocations_seq ON revocations (seq);

CREATE FUNCTION revocations_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;

-- Inserts and updates alike: an update extends a record's expiry, which the caches must learn.
CREATE TRIGGER revocations_stamp BEFORE INSERT OR UPDATE ON revocations
    FOR EACH ROW EXECUTE FUNCTION revocations_stamp();

-- Wake the other instances (LISTEN latchkey_revocations); delivered when the transaction commits,
-- once per transaction. The payload is empty: a listener runs its catch-up query.
CREATE FUNCTION revocations_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('latchkey_revocations', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER revocations_notify AFTER INSERT OR UPDATE ON revocations
    FOR EACH STATEMENT EXECUTE FUNCTION revocations_notify();
