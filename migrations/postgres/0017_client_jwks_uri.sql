-- private_key_jwt clients may publish their keys at a URL (RFC 7591 §2 `jwks_uri`) instead of
-- registering them.
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
