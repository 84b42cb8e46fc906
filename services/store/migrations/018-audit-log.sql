-- The access log (services/audit/): who saw unmasked personal data, and what operators did. Each
-- entry's hash covers the previous entry's hash and the entry's own text exactly as it was hashed,
-- so that changing, removing or reordering any entry breaks the chain from there on (hub audit
-- verify names the first entry that no longer holds). Entries are appended under one lock.
CREATE TABLE audit_log (
  seq   bigint PRIMARY KEY,
  body  text NOT NULL,
  prev  text NOT NULL,
  hash  text NOT NULL
);
