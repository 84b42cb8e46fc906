-- When the file's receipt was complete under its temporary name, recorded before it is published:
-- after a crash, a receipt already published (and perhaps already taken by the department) is not
-- written a second time; one still staged is published.
ALTER TABLE file_drops ADD COLUMN receipt_staged_at timestamptz;
