-- RFC 8693 token exchange: the APIs a client may exchange a user's access token for (JSON array).
ALTER TABLE clients ADD COLUMN may_exchange_for TEXT NOT NULL DEFAULT '[]';
