-- A node's start reads each adapter's newest raw message (when the department last sent something,
-- for hub_adapter_last_message_timestamp_seconds): an index, so that it never scans the whole inbox.
CREATE INDEX inbox_newest ON inbox (adapter, received_at);
