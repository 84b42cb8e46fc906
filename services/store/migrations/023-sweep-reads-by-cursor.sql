-- The supervisor's sweep reads the cases due in (light_due_at, supervision_code) order, each read
-- going on from where the last ended. Read again from the start of light_due_at alone, every read
-- visited the rows the previous batches had just rewritten, still under their old due time in the
-- index (in the supervision bench, a tenth of the sweep).
DROP INDEX cases_light_due;
CREATE INDEX cases_light_due ON cases (light_due_at, supervision_code) WHERE light_due_at IS NOT NULL;
