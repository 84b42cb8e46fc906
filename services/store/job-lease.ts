import type { SqlExecutor } from './sql-driver';
import { holderIsGone, newClaimant } from '../../core/kernel/claimant';
import type { Lease, Leases } from '../../core/ports/jobs';

/**
 * A job that one hub node at a time runs (polling a department's feed, watching its drop folder):
 * held through the store, so that it works the same with one embedded process and with many
 * cluster nodes. The holder renews its lease every time it asks; another node takes the job over
 * once the lease has run out, or at once when the holder was a process of the same machine that
 * no longer runs.
 */
export class JobLease implements Lease {
  private readonly me = newClaimant();
  readonly owner = this.me.id;
  /** null until the first answer, so that the first answer is reported as a change. */
  private held: boolean | null = null;

  constructor(private readonly db: SqlExecutor, readonly name: string, private readonly seconds: number) {}

  /** Whether this node holds the job now (taking or renewing it), and whether that changed since the last call. */
  async hold(): Promise<{ held: boolean; changed: boolean }> {
    let held = await this.take(null);
    if (!held) {
      const gone = await this.goneHolder();
      if (gone) held = await this.take(gone);
    }
    const changed = held !== this.held;
    this.held = held;
    return { held, changed };
  }

  /** Takes or renews the lease: it is free, this node's, run out, or held by `gone`. */
  private async take(gone: string | null): Promise<boolean> {
    const r = await this.db.query<{ owner: string }>(
      `INSERT INTO job_leases (name, owner, owner_host, owner_pid, lease_until) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, owner_host = EXCLUDED.owner_host, owner_pid = EXCLUDED.owner_pid,
         lease_until = EXCLUDED.lease_until,
         acquired_at = CASE WHEN job_leases.owner = EXCLUDED.owner THEN job_leases.acquired_at ELSE now() END
       WHERE job_leases.owner = EXCLUDED.owner OR job_leases.lease_until < now() OR job_leases.owner = $6::text
       RETURNING owner`, [this.name, this.owner, this.me.host, this.me.pid, this.seconds, gone]);
    return r.rows.length === 1;
  }

  /**
   * The holder, when it was a process of this machine that no longer runs. A holder with this
   * process's pid is never taken for gone: it may be another hub in this very process.
   */
  private async goneHolder(): Promise<string | null> {
    const r = await this.db.query<{ owner: string; owner_host: string | null; owner_pid: number | null }>(
      'SELECT owner, owner_host, owner_pid FROM job_leases WHERE name = $1', [this.name]);
    const h = r.rows[0];
    return h && holderIsGone(this.me, { host: h.owner_host, pid: h.owner_pid }) ? h.owner : null;
  }

  /** Gives the job up at once (a node stopping), so that another node need not wait for the lease to run out. */
  async release(): Promise<void> {
    this.held = false;
    await this.db.query('DELETE FROM job_leases WHERE name = $1 AND owner = $2', [this.name, this.owner]);
  }
}


/** Leases held in the store (table job_leases). */
export class StoreLeases implements Leases {
  constructor(private readonly db: SqlExecutor) {}

  lease(name: string, seconds: number): Lease {
    return new JobLease(this.db, name, seconds);
  }
}
