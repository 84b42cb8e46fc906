-- The W3C trace context (traceparent) of the message whose intake applied the event, kept with its
-- outbox row so that the event's publish and its consumers' spans join that message's trace when the
-- dispatcher publishes it later, possibly from another node. Null while tracing is off.
ALTER TABLE outbox ADD COLUMN traceparent text;
