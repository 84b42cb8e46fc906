-- Personal data at rest is sealed (core/kernel/data-keys.ts). A case is found by its applicant's ID
-- number through the keyed hash of it, filed here rather than indexed on the case rows, which every
-- event and every sweep rewrites. An entry whose case has since named another applicant is left;
-- look-ups check the case row.
CREATE TABLE case_applicant_keys (
  id_key            text NOT NULL,
  supervision_code  text NOT NULL,
  PRIMARY KEY (id_key, supervision_code)
);

-- The data keys values in the store are sealed under (by id and fingerprint, never the key): a node
-- whose key file lacks one of them cannot open every value, and refuses to start.
CREATE TABLE data_keys (
  id           text PRIMARY KEY,
  fingerprint  text NOT NULL,
  added_at     timestamptz NOT NULL DEFAULT now()
);
