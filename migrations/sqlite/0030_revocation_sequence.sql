-- The revocation cache (README "How revocation propagates"): each instance keeps the revocations in
-- memory and reads only what changed since its last look. Every revocation record carries `seq`, a
-- number taken from `revocation_sequence` each time the record is written (inserted, or its expiry
-- extended). SQLite has one writer at a time, so numbers are committed in order; the counter lives
-- in its own row so that deleting old records never hands a number out twice.
-- Rows that exist before this migration get 0: the fill at start-up reads every row anyway.
ALTER TABLE revocations ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX revocations_seq ON revocations (seq);

CREATE TABLE revocation_sequence (
    last INTEGER NOT NULL
);
INSERT INTO revocation_sequence (last) VALUES (0);

CREATE TRIGGER revocations_stamp_insert AFTER INSERT ON revocations
BEGIN
    UPDATE revocation_sequence SET last = last + 1;
    UPDATE revocations SET seq = (SELECT last FROM revocation_sequence) WHERE id = NEW.id;
END;

CREATE TRIGGER revocations_stamp_update AFTER UPDATE OF expires_at ON revocations
BEGIN
    UPDATE revocation_sequence SET last = last + 1;
    UPDATE revocations SET seq = (SELECT last FROM revocation_sequence) WHERE id = NEW.id;
END;
