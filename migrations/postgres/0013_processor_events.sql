-- Webhooks: a purchase is found by its payment's id, and each processor
-- event is acted on once however often it is delivered.
CREATE INDEX purchases_by_payment ON purchases (payment_ref);

CREATE TABLE processor_events (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
