-- Durable jobs with retries (core/ports/jobs.ts JobQueue, services/store/job-queue.ts): the SMS
-- notifier's deliveries, and later other outbound work. One row per queue and key, kept once done
-- (with its payload dropped), so that a key is never worked twice: the key is the work's identity
-- (a notification's requestId). The payload is sealed (it holds personal data: a mobile).
CREATE TABLE jobs (
  queue          text NOT NULL,
  key            text NOT NULL,
  -- waiting (due at run_at), active (claimed by a node until claimed_until), done, dead
  state          text NOT NULL DEFAULT 'waiting',
  payload        text,
  attempts       integer NOT NULL DEFAULT 0,
  run_at         timestamptz NOT NULL DEFAULT now(),
  added_at       timestamptz NOT NULL DEFAULT now(),
  claimed_by     text,
  claimed_host   text,
  claimed_pid    integer,
  claimed_until  timestamptz,
  last_error     text,
  result         json,
  finished_at    timestamptz,
  PRIMARY KEY (queue, key)
);

-- What is still to do, by state and in the order it comes due: a claim reads the due jobs and the
-- running ones (those of a holder that died), and the queue's depth counts both.
CREATE INDEX jobs_open ON jobs (queue, state, run_at) WHERE state IN ('waiting', 'active');

-- The jobs given up, for an operator.
CREATE INDEX jobs_dead ON jobs (queue, finished_at DESC) WHERE state = 'dead';

-- Per queue, across every node: the earliest moment the next job may start (its rate limit, kept
-- as the next free slot), and a pause a target asked for (429 Retry-After). A claim locks its
-- queue's row, so that nodes sharing a queue share its pace.
CREATE TABLE job_queues (
  queue         text PRIMARY KEY,
  next_slot_at  timestamptz NOT NULL DEFAULT now(),
  paused_until  timestamptz
);
