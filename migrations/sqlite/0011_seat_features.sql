-- Accessibility attributes of a seat, comma-separated: wheelchair,
-- companion, limited_mobility, restricted_view. A venue's seats carry
-- them and an event's seats copy them.
ALTER TABLE venue_seats ADD COLUMN features TEXT NOT NULL DEFAULT '';
ALTER TABLE seats ADD COLUMN features TEXT NOT NULL DEFAULT '';
