-- How a user authenticated (RFC 8176 `amr` method values, space-separated: "pwd", "pwd otp"),
-- carried from the sign-in into the code, the grant (for refreshed ID tokens) and an approved device
-- request. NULL in rows from before methods were recorded: those sign-ins were by password.
ALTER TABLE authorization_codes ADD COLUMN amr TEXT;
ALTER TABLE grants ADD COLUMN amr TEXT;
ALTER TABLE device_authorizations ADD COLUMN amr TEXT;
