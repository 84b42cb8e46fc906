-- Where each polling transport stands in a department's change feed: every record whose time is
-- earlier than `position` is applied, and so are those at exactly `position` whose keys are listed.
-- Moved in the transaction that applies the records, so a crash never moves it past unapplied ones.
CREATE TABLE poll_cursors (
  adapter        text PRIMARY KEY,
  position       text NOT NULL,
  keys_at_position jsonb NOT NULL DEFAULT '[]'::jsonb,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
