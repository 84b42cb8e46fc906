/**
 * A job that one hub node at a time runs (polling a department's feed, watching a drop folder):
 * held through the store, so that it works the same with one embedded process and with many
 * cluster nodes. The holder renews its lease every time it asks; another node takes the job over
 * once the lease has run out, or at once when the holder was a process of the same machine that
 * no longer runs. It is the hub's one lease: work a job takes on (a dropped file) is recorded
 * under the job holder's `owner`, and belongs to whoever holds the job.
 */
export interface Lease {
  /** The job's name (`poll:<adapter>`, `watch:<adapter>`). */
  readonly name: string;
  /** This node as the lease's holder. */
  readonly owner: string;
  /** Whether this node holds the job now (taking or renewing it), and whether that changed since the last call. */
  hold(): Promise<{ held: boolean; changed: boolean }>;
  /** Gives the job up at once (a node stopping), so that another node need not wait for the lease to run out. */
  release(): Promise<void>;
}

/** Leases on named jobs. */
export interface Leases {
  lease(name: string, seconds: number): Lease;
}
