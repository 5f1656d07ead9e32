-- RFC 9126 §6: a client registered `--require-par` may start sign-ins only with pushed
-- authorization requests (`require_pushed_authorization_requests`).
ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
