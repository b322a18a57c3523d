-- Tessera schema, SQLite dialect. Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and indexes; only the types differ.
-- Times are integer milliseconds since the Unix epoch (UTC); money is integer cents.

CREATE TABLE venues (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    city        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE sections (
    id          INTEGER PRIMARY KEY,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    name        TEXT    NOT NULL,
    sort_order  INTEGER NOT NULL,
    UNIQUE (venue_id, name)
);

-- The venue's physical seats; an event copies them into `seats`.
CREATE TABLE venue_seats (
    id          INTEGER PRIMARY KEY,
    section_id  INTEGER NOT NULL REFERENCES sections(id),
    row_label   TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    x           REAL    NOT NULL,
    y           REAL    NOT NULL,
    UNIQUE (section_id, row_label, number)
);

CREATE TABLE events (
    id                     INTEGER PRIMARY KEY,
    venue_id               INTEGER NOT NULL REFERENCES venues(id),
    name                   TEXT    NOT NULL,
    description            TEXT    NOT NULL,
    starts_at              INTEGER NOT NULL,
    onsale_at              INTEGER NOT NULL,
    hold_seconds           INTEGER NOT NULL DEFAULT 300 CHECK (hold_seconds > 0),
    max_tickets_per_buyer  INTEGER NOT NULL DEFAULT 8 CHECK (max_tickets_per_buyer > 0),
    refund_policy          TEXT    NOT NULL DEFAULT 'until_start',
    -- Bumped by every seat status change; the live channel orders deltas by it.
    version                INTEGER NOT NULL DEFAULT 0,
    -- Lower-cased name, venue, city and description for text search.
    search_text            TEXT    NOT NULL,
    created_at             INTEGER NOT NULL
);
CREATE INDEX events_by_start ON events (starts_at, id);

CREATE TABLE price_tiers (
    id           INTEGER PRIMARY KEY,
    event_id     INTEGER NOT NULL REFERENCES events(id),
    name         TEXT    NOT NULL,
    price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
    UNIQUE (event_id, name)
);

-- Which price tier each section of the venue sells at for an event.
CREATE TABLE event_sections (
    event_id    INTEGER NOT NULL REFERENCES events(id),
    section_id  INTEGER NOT NULL REFERENCES sections(id),
    tier_id     INTEGER NOT NULL REFERENCES price_tiers(id),
    PRIMARY KEY (event_id, section_id)
);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    -- NULL for a guest record: a buyer who checked out without an account.
    password_hash       TEXT,
    display_name        TEXT    NOT NULL DEFAULT '',
    role                TEXT    NOT NULL DEFAULT 'fan' CHECK (role IN ('fan', 'staff', 'admin')),
    -- Saved payment method: the provider's reusable token only, never card data.
    payment_token       TEXT,
    payment_brand       TEXT,
    payment_last4       TEXT,
    created_at          INTEGER NOT NULL
);

CREATE TABLE holds (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events(id),
    -- The buyer's session; a hold is invisible to every other session.
    session_id  TEXT    NOT NULL,
    user_id     INTEGER REFERENCES users(id),
    status      TEXT    NOT NULL CHECK (status IN ('active', 'released', 'expired', 'purchased')),
    expires_at  INTEGER NOT NULL,
    seat_count  INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX holds_by_session ON holds (session_id, event_id, status);
CREATE INDEX holds_active_by_expiry ON holds (status, expires_at);

CREATE TABLE seats (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events(id),
    section_id  INTEGER NOT NULL REFERENCES sections(id),
    row_label   TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    x           REAL    NOT NULL,
    y           REAL    NOT NULL,
    tier_id     INTEGER NOT NULL REFERENCES price_tiers(id),
    status      TEXT    NOT NULL DEFAULT 'available'
                CHECK (status IN ('available', 'held', 'sold', 'blocked')),
    hold_id     INTEGER REFERENCES holds(id),
    held_until  INTEGER,
    version     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (event_id, section_id, row_label, number)
);
-- The hold statement's compare-and-set and the availability counts both
-- range-scan this: (event, status, expiry).
CREATE INDEX seats_by_event_status ON seats (event_id, status, held_until);
CREATE INDEX seats_by_hold ON seats (hold_id);

-- The seats a hold asked for, kept after the hold ends (seats.hold_id is
-- cleared on release and expiry).
CREATE TABLE hold_seats (
    hold_id  INTEGER NOT NULL REFERENCES holds(id),
    seat_id  INTEGER NOT NULL REFERENCES seats(id),
    PRIMARY KEY (hold_id, seat_id)
);

CREATE TABLE purchases (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events(id),
    hold_id          INTEGER NOT NULL REFERENCES holds(id),
    user_id          INTEGER NOT NULL REFERENCES users(id),
    session_id       TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'refunded')),
    total_cents      INTEGER NOT NULL,
    -- The processor's charge id once charged.
    payment_ref      TEXT,
    -- Why a failed purchase failed (declined, processing_error, hold_lost).
    failure          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX purchases_by_user ON purchases (user_id);
CREATE INDEX purchases_pending ON purchases (status, updated_at);
-- One hold is paid for at most once: a second attempt under another key
-- while one is pending or paid is refused by the database itself.
CREATE UNIQUE INDEX purchases_one_live_per_hold ON purchases (hold_id)
    WHERE status IN ('pending', 'paid');

CREATE TABLE tickets (
    id           INTEGER PRIMARY KEY,
    purchase_id  INTEGER NOT NULL REFERENCES purchases(id),
    event_id     INTEGER NOT NULL REFERENCES events(id),
    seat_id      INTEGER NOT NULL REFERENCES seats(id),
    status       TEXT    NOT NULL CHECK (status IN ('valid', 'refunded', 'used')),
    code         TEXT    NOT NULL UNIQUE,
    scanned_at   INTEGER,
    created_at   INTEGER NOT NULL
);
-- The last line of defence against a double sale: whatever the application
-- does, one seat of one event has at most one live ticket.
CREATE UNIQUE INDEX tickets_one_live_per_seat ON tickets (event_id, seat_id)
    WHERE status IN ('valid', 'used');
CREATE INDEX tickets_by_purchase ON tickets (purchase_id);

-- Ordered per-event log of seat status changes (the live channel's outbox).
-- One version may change several seats (a hold of four seats is one change).
CREATE TABLE seat_changes (
    event_id    INTEGER NOT NULL REFERENCES events(id),
    version     INTEGER NOT NULL,
    seat_id     INTEGER NOT NULL REFERENCES seats(id),
    status      TEXT    NOT NULL,
    changed_at  INTEGER NOT NULL,
    PRIMARY KEY (event_id, version, seat_id)
);
