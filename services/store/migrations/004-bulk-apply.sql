-- Events are appended in bulk (COPY on the embedded store) while the case store holds the cases'
-- locks, and their seq values are taken from the sequence beforehand: the sequence alone keeps seq
-- unique, and the index only slowed every insert.
ALTER TABLE events DROP CONSTRAINT events_seq_key;

-- What the projection needs of each of the case's events (id, seq, status, status time as sent,
-- hall), so that applying events reads one row per case instead of every earlier event.
ALTER TABLE cases ADD COLUMN timeline jsonb NOT NULL DEFAULT '[]'::jsonb;
UPDATE cases c SET timeline = COALESCE((
  SELECT jsonb_agg(jsonb_build_array(e.id, e.seq, e.status, e.body->'data'->>'statusTime', e.body->'data'->'department'->'hall') ORDER BY e.seq)
  FROM events e WHERE e.supervision_code = c.supervision_code), '[]'::jsonb);
