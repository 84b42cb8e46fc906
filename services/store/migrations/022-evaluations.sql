-- Evaluations (好差评, services/evaluations/). An applicant is sent a link to a public page, one per
-- case and applicant. A presented token is found by its sha256 (token_hash). The token itself, which
-- the SMS notifier may ask for again, and the applicant's ID number it was issued for are sealed
-- (DataKeys.seal, moved to a new key by hub rekey): nothing in the store opens the page without the
-- data keys.
CREATE TABLE evaluation_links (
  token_hash        text PRIMARY KEY,
  supervision_code  text NOT NULL,
  applicant         text NOT NULL,
  token             text NOT NULL,
  issued_at         timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL
);
CREATE INDEX evaluation_links_case ON evaluation_links (supervision_code);

-- One evaluation per case (the unique supervision code refuses a second answer). The department,
-- hall and item are those of the case when it was evaluated: lists and statistics read them here.
-- comment and follow_up_note are sealed (DataKeys.seal): free text the public and departments
-- write, which may hold personal data. A rating of 2 or less opens a follow-up due at
-- follow_up_due. overdue_alert_id is the FOLLOW_UP_OVERDUE alert raised for it, stored in the
-- transaction that raised it, so that a follow-up raises one alert at most.
CREATE TABLE evaluations (
  id                text PRIMARY KEY,
  supervision_code  text NOT NULL UNIQUE,
  token_hash        text NOT NULL,
  department_code   text NOT NULL,
  department_name   text NOT NULL,
  hall_code         text,
  hall_name         text,
  item_code         text NOT NULL,
  item_name         text NOT NULL,
  rating            smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  comment           text,
  submitted_at      timestamptz NOT NULL,
  follow_up_due     timestamptz,
  follow_up_at      timestamptz,
  follow_up_note    text,
  follow_up_by      text,
  overdue_alert_id  bigint
);
-- The list, newest first, whole or by department (a hall's are found through the department's).
CREATE INDEX evaluations_newest ON evaluations (submitted_at DESC, id DESC);
CREATE INDEX evaluations_department ON evaluations (department_code, submitted_at DESC, id DESC);
-- The sweep reads only the follow-ups still open and not yet alerted, by due time.
CREATE INDEX evaluations_follow_up_due ON evaluations (follow_up_due) WHERE follow_up_at IS NULL AND overdue_alert_id IS NULL AND follow_up_due IS NOT NULL;
