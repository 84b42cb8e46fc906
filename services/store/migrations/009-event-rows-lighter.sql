-- An event's body is written once and read back whole (it is never queried inside), so it is kept
-- as json, checked and stored as sent, rather than as jsonb: on the embedded store, building jsonb
-- was half the cost of appending an event.
ALTER TABLE events ALTER COLUMN body TYPE json USING body::json;

-- A batch reserves its events' seq values with one call: each nextval is a block of 65536, and the
-- batch numbers its events inside its block(s). Values stay unique and in the order batches took
-- them; every later block lies above every value taken one at a time before.
ALTER SEQUENCE events_seq_seq INCREMENT BY 65536;
