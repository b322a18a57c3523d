-- Purchases that settle correctly whatever crashes. Keep in step with
-- ../sqlite/0006_purchase_recovery.sql (which explains each column).

-- Rows from before: their client key was also the processor's key.
ALTER TABLE purchases RENAME COLUMN idempotency_key TO processor_key;
ALTER TABLE purchases RENAME CONSTRAINT purchases_idempotency_key_key TO purchases_processor_key_key;
ALTER TABLE purchases ADD COLUMN request_key TEXT;
UPDATE purchases SET request_key = processor_key;
ALTER TABLE purchases ALTER COLUMN request_key SET NOT NULL;
ALTER TABLE purchases ADD COLUMN request_fingerprint TEXT;
ALTER TABLE purchases ADD COLUMN processor_customer TEXT;
ALTER TABLE purchases ADD COLUMN hold_expires_before BIGINT;
ALTER TABLE purchases ADD COLUMN attempt BIGINT NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN next_check_at BIGINT;
ALTER TABLE purchases ADD COLUMN check_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN watch_until BIGINT;
UPDATE purchases SET next_check_at = updated_at + 60000 WHERE status = 'pending';

ALTER TABLE purchases DROP CONSTRAINT purchases_status_check;
ALTER TABLE purchases ADD CONSTRAINT purchases_status_check
    CHECK (status IN ('pending', 'paid', 'failed', 'refunding', 'refunded'));

DROP INDEX purchases_pending;
CREATE UNIQUE INDEX purchases_by_request_key ON purchases (session_id, request_key);
CREATE INDEX purchases_due ON purchases (next_check_at) WHERE next_check_at IS NOT NULL;
DROP INDEX purchases_one_live_per_hold;
CREATE UNIQUE INDEX purchases_one_live_per_hold ON purchases (hold_id)
    WHERE status IN ('pending', 'paid', 'refunding');
