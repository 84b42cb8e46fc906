import type { SqlExecutor } from './sql-driver';
import { newClaimant } from '../../core/kernel/claimant';
import type { Lease, Leases } from '../../core/ports/jobs';

/**
 * A job that one hub node at a time runs (polling a department's feed): held through the store, so
 * that it works the same with one embedded process and with many cluster nodes. The holder renews
 * its lease every time it asks; another node takes the job over once the lease has run out.
 */
export class JobLease implements Lease {
  readonly owner = newClaimant().id;
  /** null until the first answer, so that the first answer is reported as a change. */
  private held: boolean | null = null;

  constructor(private readonly db: SqlExecutor, readonly name: string, private readonly seconds: number) {}

  /** Whether this node holds the job now (taking or renewing it), and whether that changed since the last call. */
  async hold(): Promise<{ held: boolean; changed: boolean }> {
    const r = await this.db.query<{ owner: string }>(
      `INSERT INTO job_leases (name, owner, lease_until) VALUES ($1, $2, now() + make_interval(secs => $3))
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until,
         acquired_at = CASE WHEN job_leases.owner = EXCLUDED.owner THEN job_leases.acquired_at ELSE now() END
       WHERE job_leases.owner = EXCLUDED.owner OR job_leases.lease_until < now()
       RETURNING owner`, [this.name, this.owner, this.seconds]);
    const held = r.rows.length === 1;
    const changed = held !== this.held;
    this.held = held;
    return { held, changed };
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
