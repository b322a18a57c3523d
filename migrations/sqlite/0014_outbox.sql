-- Email outbox: a row is written in the same transaction as what it
-- announces (a sale, a refund, a link), and a worker sends it. A message
-- holds no secret: links are derived from the server's key when it is sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    -- tickets | refund | confirm_email | claim_account | password_reset
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    purchase_id     INTEGER REFERENCES purchases(id),
    -- When the account link the message carries stops working.
    link_expires_at INTEGER,
    created_at      INTEGER NOT NULL,
    -- Due from this time; a worker that takes the row moves it a lease ahead.
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    -- Set when the retries are used up.
    failed_at       INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_by_purchase ON outbox (purchase_id);
