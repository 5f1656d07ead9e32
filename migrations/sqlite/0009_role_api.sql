-- A role may belong to one API (RFC 9068 §2.2.3.1): an access token carries the global roles and
-- those of the API it is for.
ALTER TABLE roles ADD COLUMN api TEXT REFERENCES apis (audience);
