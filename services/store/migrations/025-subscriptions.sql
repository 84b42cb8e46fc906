-- Outbound subscriptions created through the API (services/subscriptions/); those of the
-- configuration file are not stored. The signing secret is sealed under the data keys (the hub
-- needs it back to sign, so it cannot be a hash), and never answered. Deliveries themselves are
-- jobs (queue `outbound:<id>`, migrations 021 and 024).
CREATE TABLE subscriptions (
  id              text PRIMARY KEY,
  url             text NOT NULL,
  key_id          text NOT NULL,
  secret          text NOT NULL,
  filter          json NOT NULL,
  personal_data   boolean NOT NULL DEFAULT false,
  rate_per_second double precision NOT NULL DEFAULT 0,
  created_by      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- What an operator asks of a subscription's deliveries besides its queue (GET .../status): the last
-- success and the last error, for the configuration's subscriptions too, so one row per id whatever
-- its origin. Written at most once a second per node on success, on every failure.
CREATE TABLE subscription_outcomes (
  id               text PRIMARY KEY,
  last_success_at  timestamptz,
  last_error       text,
  last_error_at    timestamptz
);
