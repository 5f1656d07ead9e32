-- A client whose sign-ins need two factors (`client create --require-mfa`), and a role whose holders'
-- sign-ins do (`role create --require-mfa`): the password and a second factor (urn:latchkey:acr:mfa).
ALTER TABLE clients ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
ALTER TABLE roles ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
