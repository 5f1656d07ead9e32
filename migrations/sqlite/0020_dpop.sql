-- DPoP (RFC 9449).
--
-- §5.2 `dpop_bound_access_tokens` (`--require-dpop`): the client's token requests must carry a proof.
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;

-- §10: the key an authorization code is bound to (`dpop_jkt` at /authorize or /par), and §5: the
-- key a public client's grant (so its refresh tokens) is bound to.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;

-- §11.1: the proofs seen, by the SHA-256 of (key thumbprint, jti), kept while their iat is inside
-- the accepted window, so a replay is refused on every instance.
CREATE TABLE dpop_proofs (
    proof_hash BLOB PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dpop_proofs_expiry ON dpop_proofs (expires_at);
