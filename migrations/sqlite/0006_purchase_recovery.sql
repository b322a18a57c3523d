-- Purchases that settle correctly whatever crashes. Keep in step with
-- ../postgres/0006_purchase_recovery.sql.
--
-- SQLite cannot change a CHECK or drop a column's UNIQUE in place, so the
-- table is rebuilt: copied aside, dropped, created anew and copied back.
-- Dropping it while tickets still point at its rows is allowed only with
-- foreign keys checked at commit, by which time every row is back.
PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE purchases_before_0006 AS SELECT * FROM purchases;
DROP TABLE purchases;

CREATE TABLE purchases (
    id                   INTEGER PRIMARY KEY,
    event_id             INTEGER NOT NULL REFERENCES events(id),
    hold_id              INTEGER NOT NULL REFERENCES holds(id),
    user_id              INTEGER NOT NULL REFERENCES users(id),
    session_id           TEXT    NOT NULL,
    -- The buyer's Idempotency-Key: unique within their session only.
    request_key          TEXT    NOT NULL,
    -- SHA-256 of what was asked (hold, email, payment choice): the same
    -- key with another request is refused.
    request_fingerprint  TEXT,
    -- The key the processor sees, derived from the purchase and never a
    -- client's: replaying the payment's creation under it returns the same
    -- payment.
    processor_key        TEXT    NOT NULL UNIQUE,
    -- The processor's customer of a saved card, so a replay is identical.
    processor_customer   TEXT,
    -- refunding: the refund is decided (tickets no longer admit) and the
    -- processor has not confirmed it yet.
    status               TEXT    NOT NULL
                         CHECK (status IN ('pending', 'paid', 'failed', 'refunding', 'refunded')),
    total_cents          INTEGER NOT NULL,
    -- The processor's payment id, recorded before it is confirmed.
    payment_ref          TEXT,
    -- Why it was not sold (declined, processing_error, hold_lost).
    failure              TEXT,
    -- The hold's expiry before this attempt extended it for the payment;
    -- restored when the attempt fails.
    hold_expires_before  INTEGER,
    -- Bumped by every retry that takes the pending purchase over, so the
    -- reconciler never settles one whose charge is in flight.
    attempt              INTEGER NOT NULL DEFAULT 0,
    -- When the reconciler next looks at it (NULL: nothing left to check),
    -- and how often it has looked in vain (its backoff).
    next_check_at        INTEGER,
    check_failures       INTEGER NOT NULL DEFAULT 0,
    -- A failed purchase whose payment could still succeed late is watched
    -- until then.
    watch_until          INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    by_account           INTEGER NOT NULL DEFAULT 0
);

-- Rows from before: their client key was also the processor's key; a
-- pending one is looked at by the reconciler a minute after its last try.
INSERT INTO purchases (id, event_id, hold_id, user_id, session_id, request_key, processor_key,
                       status, total_cents, payment_ref, failure, next_check_at,
                       created_at, updated_at, by_account)
SELECT id, event_id, hold_id, user_id, session_id, idempotency_key, idempotency_key,
       status, total_cents, payment_ref, failure,
       CASE WHEN status = 'pending' THEN updated_at + 60000 END,
       created_at, updated_at, by_account
FROM purchases_before_0006;
DROP TABLE purchases_before_0006;

CREATE INDEX purchases_by_user ON purchases (user_id);
CREATE INDEX purchases_by_event ON purchases (event_id, status);
CREATE INDEX purchases_by_session ON purchases (session_id);
CREATE UNIQUE INDEX purchases_by_request_key ON purchases (session_id, request_key);
-- The reconciler's queue, soonest first.
CREATE INDEX purchases_due ON purchases (next_check_at) WHERE next_check_at IS NOT NULL;
-- One hold is paid for at most once: a second attempt under another key
-- while one is pending, paid or being refunded is refused by the database.
CREATE UNIQUE INDEX purchases_one_live_per_hold ON purchases (hold_id)
    WHERE status IN ('pending', 'paid', 'refunding');
