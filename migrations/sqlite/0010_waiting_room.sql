-- The onsale waiting room. Keep in step with ../postgres/0010_waiting_room.sql.

-- One waiting room per event: its settings, its draw, and the counters
-- every server shares, so positions come from two numbers rather than from
-- counting rows. Changed only inside a write transaction that locks the row.
CREATE TABLE event_queues (
    event_id          INTEGER PRIMARY KEY REFERENCES events(id),
    enabled           INTEGER NOT NULL,
    opens_at          INTEGER NOT NULL,
    admit_per_minute  INTEGER NOT NULL CHECK (admit_per_minute > 0),
    max_active        INTEGER NOT NULL CHECK (max_active > 0),
    admission_ms      INTEGER NOT NULL CHECK (admission_ms > 0),
    paused            INTEGER NOT NULL DEFAULT 0,
    -- Joining needs a signed-in account (one place per account).
    require_account   INTEGER NOT NULL DEFAULT 0,
    -- Proof of work at joining: leading zero bits of SHA-256(challenge, nonce); 0 is none.
    pow_bits          INTEGER NOT NULL DEFAULT 0 CHECK (pow_bits BETWEEN 0 AND 28),
    -- 32 random bytes as hex; published (with the order) only after the
    -- draw. Its SHA-256 is published from the start.
    seed              TEXT    NOT NULL,
    seed_hash         TEXT    NOT NULL,
    -- NULL until the pre-queue is drawn (at the first join or tick after
    -- the onsale); then how many entries the draw ordered.
    drawn_at          INTEGER,
    drawn_count       INTEGER NOT NULL DEFAULT 0,
    -- Positions given out so far, and admitted so far: a waiting entry at
    -- position p has p - admitted_through people ahead of it (and itself).
    last_position     INTEGER NOT NULL DEFAULT 0,
    admitted_through  INTEGER NOT NULL DEFAULT 0,
    -- Admission pace: credit in admissions x 60,000 (one admission costs
    -- 60,000; each millisecond adds admit_per_minute), up to paced_at.
    credit            INTEGER NOT NULL DEFAULT 0,
    paced_at          INTEGER NOT NULL DEFAULT 0
);

-- One place per browser session or account and event.
CREATE TABLE queue_entries (
    id           INTEGER PRIMARY KEY,
    event_id     INTEGER NOT NULL REFERENCES event_queues(event_id),
    -- 's:' and the session's key, or 'u:' and the account id.
    holder       TEXT    NOT NULL,
    -- Random, the entry's anonymous id in the published draw.
    public_id    TEXT    NOT NULL,
    -- The first 8 bytes of HMAC-SHA256(seed, public_id) as a big-endian
    -- integer, shifted into the signed range: the draw sorts by it.
    draw_key     INTEGER NOT NULL,
    joined_at    INTEGER NOT NULL,
    -- The place the draw gave, kept when the entry later rejoins at the
    -- back (the published order is read from it).
    drawn_position INTEGER,
    -- NULL in the pre-queue until the draw.
    position     INTEGER,
    state        TEXT    NOT NULL CHECK (state IN ('waiting', 'admitted', 'done', 'expired')),
    admitted_at  INTEGER,
    expires_at   INTEGER,
    UNIQUE (event_id, holder)
);
CREATE UNIQUE INDEX queue_entries_by_position ON queue_entries (event_id, position)
    WHERE position IS NOT NULL;
CREATE INDEX queue_entries_by_state ON queue_entries (event_id, state, expires_at);
CREATE INDEX queue_entries_by_admission ON queue_entries (event_id, admitted_at)
    WHERE admitted_at IS NOT NULL;
