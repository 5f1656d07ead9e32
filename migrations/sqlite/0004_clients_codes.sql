-- OIDC Dynamic Registration §2 application_type: 'web' (exact redirect matching) or 'native'
-- (RFC 8252: the loopback any-port rule, private-use schemes, never a silent authorization).
-- Existing clients become 'web'; a native app relying on the loopback any-port rule needs
-- `latchkey client update ID --application-type native`.
ALTER TABLE clients ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web';

-- RFC 6749 §4.1.3: whether the authorization request carried redirect_uri (then the token request must
-- repeat it exactly).
ALTER TABLE authorization_codes ADD COLUMN redirect_uri_sent INTEGER NOT NULL DEFAULT 1;

-- Consumed codes are now kept while their grant lives (replay detection), so they are looked up by grant.
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);
