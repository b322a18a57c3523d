-- Staff figures: sales per minute and revenue of one event are range scans.
-- Keep in step with ../postgres/0003_staff.sql.
CREATE INDEX tickets_by_event_time ON tickets (event_id, created_at);
CREATE INDEX purchases_by_event ON purchases (event_id, status);
