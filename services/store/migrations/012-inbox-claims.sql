-- Who works on a raw message not yet processed, and until when: the node that received it, or the
-- node whose start recovers it after a stop. Two live nodes never work on one message; a claim whose
-- holder died runs out (or, when the holder was a process of the same machine that no longer runs,
-- is taken over at once by the next process there).
ALTER TABLE inbox ADD COLUMN claimed_by text;
ALTER TABLE inbox ADD COLUMN claimed_host text;
ALTER TABLE inbox ADD COLUMN claimed_pid integer;
ALTER TABLE inbox ADD COLUMN claimed_until timestamptz;

-- Recovery reads one adapter's unprocessed messages, oldest first: the pending index leads with the adapter.
DROP INDEX inbox_pending;
CREATE INDEX inbox_pending ON inbox (adapter, received_at) WHERE state = 'received';
