-- A buyer may extend an active hold once (POST /api/holds/{id}/extend):
-- how many times this hold was extended.
ALTER TABLE holds ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
