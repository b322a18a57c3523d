-- The per-buyer limit counts a session's tickets on every hold: without
-- this index that count walked every ticket of the event.
-- Keep in step with ../postgres/0004_purchases_by_session.sql.
CREATE INDEX purchases_by_session ON purchases (session_id);
