-- Who holds a job's lease, as a process: a holder that was a process of the same machine and no
-- longer runs (killed, crashed) is taken over at once by the next process there, instead of after
-- its lease has run out.
ALTER TABLE job_leases ADD COLUMN owner_host text;
ALTER TABLE job_leases ADD COLUMN owner_pid integer;

-- A dropped file belongs to the holder of its adapter's watch lease (job_leases `watch:<adapter>`),
-- and the next holder takes it over: the files' own leases are gone. `owner` still names the
-- holder that has the file, and every write to the row checks it.
ALTER TABLE file_drops DROP COLUMN lease_until;
ALTER TABLE file_drops DROP COLUMN owner_host;
ALTER TABLE file_drops DROP COLUMN owner_pid;
