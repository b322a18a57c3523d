-- pgbench script: the bare compare-and-set that claims one seat, as the
-- inventory issues it (without the surrounding transaction's version bump,
-- change log and hold row). held_until = 0 keeps every seat claimable, so
-- each run measures the statement and its durable commit, not contention.
-- Run: pgbench -n -f bench/hold_statement.sql -D event=<id> -c 32 -j 2 -T 10 <db>
\set seat_offset random(0, 49999)
UPDATE seats SET status = 'held', held_until = 0, version = version + 1
 WHERE event_id = :event
   AND id = (SELECT MIN(id) FROM seats WHERE event_id = :event) + :seat_offset
   AND (status = 'available' OR (status = 'held' AND held_until <= 1));
