-- "Has this hold a pending purchase?" is asked by every expiry sweep and
-- every hold release. The partial unique index on hold_id cannot answer it
-- (SQLite does not infer status IN (...) from status = 'pending'), so each
-- asking scanned the whole purchases table: slower with every sale.
CREATE INDEX purchases_by_hold ON purchases (hold_id, status);
