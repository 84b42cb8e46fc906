-- Files taken from drop folders (file-drop transport). The bytes are not stored here: month-end
-- files reach 200 MB, so the durable raw form is the copy under the drop folder (`path`), moved out
-- of the department's inbox before anything is read, and this row is its identity and outcome.
CREATE TABLE file_drops (
  id             text PRIMARY KEY,
  adapter        text NOT NULL,
  -- the name the department gave the file
  name           text NOT NULL,
  -- claimed → applying → applied | failed | duplicate → receipted → archived
  state          text NOT NULL,
  -- the node that holds the claim, until lease_until (a node renews it while it works)
  owner          text NOT NULL,
  owner_host     text NOT NULL,
  owner_pid      integer NOT NULL,
  lease_until    timestamptz NOT NULL,
  claimed_at     timestamptz NOT NULL DEFAULT now(),
  -- where the bytes are now: the processing folder, then the archive
  path           text NOT NULL,
  sha256         text,
  size           bigint,
  -- attributes of the batch element (PCH, SWJGDM, JLS…), once the file is validated
  batch          jsonb,
  records        integer,
  records_done   integer NOT NULL DEFAULT 0,
  accepted       integer NOT NULL DEFAULT 0,
  duplicates     integer NOT NULL DEFAULT 0,
  rejected       integer NOT NULL DEFAULT 0,
  -- why the whole file was refused (corrupt): nothing of it was applied
  error          text,
  -- same bytes as that earlier file: nothing applied, its receipt repeated
  duplicate_of   text REFERENCES file_drops (id),
  finished_at    timestamptz,
  receipted_at   timestamptz,
  archived_at    timestamptz,
  -- the archived copy and the per-record results are gone (retention)
  purged_at      timestamptz
);
-- One original per content: a second file with the same bytes becomes its duplicate.
CREATE UNIQUE INDEX file_drops_content ON file_drops (adapter, sha256) WHERE duplicate_of IS NULL AND sha256 IS NOT NULL AND purged_at IS NULL;
CREATE INDEX file_drops_open ON file_drops (adapter, claimed_at) WHERE archived_at IS NULL;
CREATE INDEX file_drops_archived ON file_drops (adapter, archived_at) WHERE purged_at IS NULL;

-- Per-record results of a file (what its receipt says of each record, in file order): one row per
-- applied chunk, committed in the transaction that applies the chunk's records.
CREATE TABLE file_drop_results (
  file_id  text NOT NULL REFERENCES file_drops (id),
  first    integer NOT NULL,
  results  text NOT NULL,
  PRIMARY KEY (file_id, first)
);
