-- The event a dead-lettered record would have become, when its key could be read. One record can
-- reach the hub twice (a vehicle office pushes a report and the hub also polls it): while a dead
-- letter for it is open, the second refusal is answered the same but adds no second entry.
ALTER TABLE dead_letters ADD COLUMN event_id text;
CREATE UNIQUE INDEX dead_letters_open_event ON dead_letters (adapter, event_id) WHERE resolved_at IS NULL AND event_id IS NOT NULL;
