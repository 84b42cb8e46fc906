-- hub_outbound_lag_seconds is the age of the oldest event a subscription has not yet taken. It was
-- counted from when the delivery was queued, so that events waiting in the outbox or on the bus
-- (a backlogged bus, a hub started after a stop) counted as fresh once queued. The outbox row keeps
-- when its event was applied (the applying transaction's time, its default); the bus carries it to
-- the subscriptions (a header), and a delivery's job keeps it as the moment it began to wait.
ALTER TABLE outbox ADD COLUMN applied_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE jobs ADD COLUMN since timestamptz;
