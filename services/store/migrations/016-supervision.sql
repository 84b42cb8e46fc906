-- The supervisor (services/supervisor/) owns a case row's light, deadline, paused and violations:
-- the case store no longer writes them. light_due_at is the next moment at which the case's light
-- changes with no new event; the sweep reads the cases due through its index, never every open
-- case. supervision is what the supervisor last counted of the case in case_stats (its key and
-- counts), so that a change is counted as the difference.
ALTER TABLE cases ADD COLUMN light_due_at timestamptz;
ALTER TABLE cases ADD COLUMN supervision jsonb;
CREATE INDEX cases_light_due ON cases (light_due_at) WHERE light_due_at IS NOT NULL;
-- Every case stored before the supervisor is due at once: the first sweep supervises it.
UPDATE cases SET light_due_at = '-infinity';

-- The statistics, kept as counters: per department, hall ('' for none) and day (the acceptance
-- date in Beijing, or the date of first sight for a case never accepted), summed over a date range
-- when asked. The supervisor adds the difference a recomputed case makes.
CREATE TABLE case_stats (
  department_code  text NOT NULL,
  hall_code        text NOT NULL DEFAULT '',
  day              date NOT NULL,
  department_name  text NOT NULL,
  hall_name        text,
  received         bigint NOT NULL DEFAULT 0,
  in_progress      bigint NOT NULL DEFAULT 0,
  completed        bigint NOT NULL DEFAULT 0,
  on_time          bigint NOT NULL DEFAULT 0,
  -- completed cases with an acceptance on record, and their working days from acceptance to completion
  timed            bigint NOT NULL DEFAULT 0,
  working_days     bigint NOT NULL DEFAULT 0,
  green            bigint NOT NULL DEFAULT 0,
  yellow           bigint NOT NULL DEFAULT 0,
  red              bigint NOT NULL DEFAULT 0,
  violations       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (department_code, hall_code, day)
);

-- Every light change to YELLOW or RED and every violation, in the order they were committed (ids
-- are taken under one lock, held to the commit). published: on the bus (case.light.changed,
-- case.violation.raised); the outbox dispatcher publishes the others.
CREATE TABLE alerts (
  id                bigserial PRIMARY KEY,
  kind              text NOT NULL,
  level             text NOT NULL,
  supervision_code  text NOT NULL,
  department_code   text NOT NULL,
  department_name   text NOT NULL,
  hall_code         text,
  from_light        text,
  to_light          text,
  violation         jsonb,
  at                timestamptz NOT NULL,
  published         boolean NOT NULL DEFAULT false
);
CREATE INDEX alerts_unpublished ON alerts (id) WHERE NOT published;
CREATE INDEX alerts_department ON alerts (department_code, id);
CREATE INDEX alerts_case ON alerts (supervision_code);
