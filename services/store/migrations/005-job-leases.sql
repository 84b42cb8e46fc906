-- Jobs that one node of a cluster runs at a time (polling a department's feed): the node that holds
-- a job's lease runs it and renews the lease as it goes; when it stops renewing (it stopped or
-- died), another node takes the job once lease_until has passed.
CREATE TABLE job_leases (
  name         text PRIMARY KEY,
  owner        text NOT NULL,
  lease_until  timestamptz NOT NULL,
  acquired_at  timestamptz NOT NULL DEFAULT now()
);
