-- Ordered groups of jobs (core/ports/jobs.ts JobQueue, services/store/job-queue.ts): the jobs of one
-- queue and group are worked one at a time, in the order they were added (a subscriber's webhook
-- deliveries of one case must never arrive out of order), while different groups run side by side.
-- A job without a group (every job before this migration, the SMS notifier's) is worked as before.
ALTER TABLE jobs ADD COLUMN grp text;

-- The order of adding, kept by the store itself: a number drawn from a sequence as each row is
-- inserted (ALWAYS, so that no statement can write one out of turn), in the order of the rows of an
-- insert of many. The existing rows get theirs as the column is added, in no particular order: none
-- of them has a group, and only the jobs of one group are compared by it.
ALTER TABLE jobs ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- The due jobs in the order a claim takes them: by when they are due, then in the order they were
-- added. The jobs an insert of many adds are all due at the same moment; ordered by key after it (as
-- before), a claim had to read and sort every one of them to take the first few, and now reads them
-- from the index in order, stopping as soon as it has enough.
DROP INDEX jobs_open;
CREATE INDEX jobs_open ON jobs (queue, state, run_at, seq) WHERE state IN ('waiting', 'active');

-- The claim of a grouped job asks whether an earlier job of its group is still open (waiting or
-- active) or dead (holding the group until it is replayed): one probe of this index per candidate,
-- which stops at the first entry. Done jobs, and the jobs without a group, are not in it, so that it
-- stays the size of what is still to do in groups, and finishing an ungrouped job never touches it.
CREATE INDEX jobs_group_open ON jobs (queue, grp, seq) WHERE grp IS NOT NULL AND state IN ('waiting', 'active', 'dead');

-- Whether a group holds a dead job, and which one came first: asked by every grouped add (a job
-- added to such a group is added dead) and by a replay. Dead jobs are few, so this index is small
-- and costs nothing while jobs succeed, where the one above would be read through the group's
-- whole backlog to find that it holds no dead job.
CREATE INDEX jobs_group_dead ON jobs (queue, grp, seq) WHERE grp IS NOT NULL AND state = 'dead';

-- The latest job done of a queue (an operator's "last delivered at"), read from the end of this
-- index rather than from every done job a queue ever had, which are kept for good.
CREATE INDEX jobs_done ON jobs (queue, finished_at) WHERE state = 'done';
