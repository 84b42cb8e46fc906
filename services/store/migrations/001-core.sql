-- Raw messages exactly as departments sent them, stored before any answer is given.
CREATE TABLE inbox (
  id            text PRIMARY KEY,
  adapter       text NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  content_type  text,
  headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
  body          bytea NOT NULL,
  sha256        text NOT NULL,
  -- received: stored, not yet answered/applied; processed: every record applied, duplicate or refused
  state         text NOT NULL DEFAULT 'received',
  records       integer,
  result        jsonb,
  processed_at  timestamptz
);
CREATE INDEX inbox_pending ON inbox (received_at) WHERE state = 'received';
CREATE INDEX inbox_adapter_sha ON inbox (adapter, sha256);

-- One supervision code per case; (system, local id) finds it.
CREATE TABLE case_refs (
  system            text NOT NULL,
  local_id          text NOT NULL,
  supervision_code  text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (system, local_id)
);
CREATE INDEX case_refs_code ON case_refs (supervision_code);

-- Canonical events, idempotent by their deterministic id.
CREATE TABLE events (
  id                text PRIMARY KEY,
  seq               bigserial UNIQUE,
  supervision_code  text NOT NULL,
  adapter           text NOT NULL,
  raw_message_id    text NOT NULL,
  status            text NOT NULL,
  status_time       timestamptz NOT NULL,
  received_at       timestamptz NOT NULL,
  applied_at        timestamptz NOT NULL DEFAULT now(),
  body              jsonb NOT NULL
);
CREATE INDEX events_case ON events (supervision_code, status_time, seq);

-- The case projection, recomputed from the whole timeline in the transaction that adds an event.
CREATE TABLE cases (
  supervision_code  text PRIMARY KEY,
  department_code   text NOT NULL,
  department_name   text NOT NULL,
  hall_code         text,
  hall_name         text,
  item_code         text NOT NULL,
  item_name         text NOT NULL,
  status            text NOT NULL,
  status_time       timestamptz NOT NULL,
  applicant         jsonb NOT NULL,
  light             text,
  deadline          timestamptz,
  paused            boolean NOT NULL DEFAULT false,
  violations        jsonb NOT NULL DEFAULT '[]'::jsonb,
  event_count       integer NOT NULL,
  first_seen        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX cases_list ON cases (first_seen DESC, supervision_code DESC);
CREATE INDEX cases_department ON cases (department_code, status);

-- Records that could not be mapped, with their raw form and the reason, until fixed and replayed.
CREATE TABLE dead_letters (
  id              text PRIMARY KEY,
  seq             bigserial UNIQUE,
  adapter         text NOT NULL,
  raw_message_id  text NOT NULL,
  record_index    integer NOT NULL,
  record          jsonb NOT NULL,
  context         jsonb NOT NULL DEFAULT '{}'::jsonb,
  reason          text NOT NULL,
  rule            text,
  field           text,
  value           text,
  received_at     timestamptz NOT NULL,
  replays         integer NOT NULL DEFAULT 0,
  resolved_at     timestamptz,
  resolution      jsonb,
  UNIQUE (raw_message_id, record_index)
);
CREATE INDEX dead_letters_open ON dead_letters (adapter, seq) WHERE resolved_at IS NULL;
