-- A buyer may extend an active hold once (POST /api/holds/{id}/extend):
-- how many times this hold was extended.
ALTER TABLE holds ADD COLUMN extensions BIGINT NOT NULL DEFAULT 0;
