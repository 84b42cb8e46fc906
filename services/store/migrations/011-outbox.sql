-- Events committed and not yet published on the bus (services/outbox/). The case store writes a row
-- in the transaction that appends the event, so an event is on the bus or still here, whatever
-- stops the hub in between; the dispatcher deletes a row once the bus has taken its event. Only the
-- event's id and seq are kept: the envelope is rebuilt from the events table when it is published
-- (a file chunk appends thousands of events, and each outbox row is written with them).
-- seq is the event's own (the order its case's events were applied in); events stored before this
-- migration were never meant for a bus and are not added.
CREATE TABLE outbox (
  seq       bigint PRIMARY KEY,
  event_id  text NOT NULL
);
