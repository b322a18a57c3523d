-- No hoarding, and links that expire. Keep in step with
-- ../postgres/0007_client_limits.sql.

-- The client address a hold was made from (an IPv4 address or an IPv6 /64,
-- as text; NULL when per-address limits are off), kept while the hold is
-- active: the cap on seats one address holds at once in an event is
-- counted from it, in the database, so it holds across servers.
ALTER TABLE holds ADD COLUMN client_key TEXT;
CREATE INDEX holds_by_client ON holds (client_key, event_id, status)
    WHERE client_key IS NOT NULL;
-- Holds made signed in: the per-buyer limit counts an account's seats
-- across all its browsers.
CREATE INDEX holds_by_user ON holds (user_id, event_id, status)
    WHERE user_id IS NOT NULL;

-- When the outstanding confirmation (or claim) link stops working. Links
-- sent before this migration get a day from now.
ALTER TABLE users ADD COLUMN confirm_token_expires_at INTEGER;
UPDATE users SET confirm_token_expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 86400000
    WHERE confirm_token_hash IS NOT NULL;
