import type { SqlDriver } from './sql-driver';
import type { Logger } from '../../core/kernel/logger';
import { IntervalJob } from '../../core/jobs/interval-job';

/**
 * When a table is vacuumed or analyzed: PostgreSQL's autovacuum defaults (its documentation, "The
 * Autovacuum Daemon"): dead rows past threshold + scaleFactor × live rows; rows changed since the
 * last analyze past analyzeThreshold + analyzeScaleFactor × live rows; and, whatever the dead rows,
 * a table whose oldest unfrozen transaction id is older than freezeMaxAge, so that transaction ids
 * never wrap around.
 */
export const VACUUM_RULES = {
  threshold: 50,
  scaleFactor: 0.2,
  analyzeThreshold: 50,
  analyzeScaleFactor: 0.1,
  freezeMaxAge: 200_000_000,
};

export type VacuumRules = typeof VACUUM_RULES;

/** How often the embedded store's tables are looked at (autovacuum's naptime is 60 s; the queues churn faster). */
export const VACUUM_EVERY_MS = 30_000;

/** A vacuum that held the store this long is logged at info (shorter ones at debug). */
const SLOW_MS = 1000;

interface TableStats {
  relname: string;
  n_live_tup: number;
  n_dead_tup: number;
  n_mod_since_analyze: number;
  xid_age: number;
}

/** What a pass did: the tables vacuumed (and analyzed with it) and those only analyzed. */
export interface VacuumPass {
  vacuumed: string[];
  analyzed: string[];
}

/**
 * The embedded store's autovacuum. PGlite is PostgreSQL in single-user mode, which runs no
 * autovacuum: without this, every updated or deleted row (a job claimed and done, an outbox entry
 * published, a case projection refreshed) would stay in its table for good, the files would grow
 * without bound, the planner would never gather statistics, and transaction ids would in time wrap
 * around. Each pass reads the tables' counters (pg_stat_user_tables) and vacuums or analyzes, one
 * statement each, the tables PostgreSQL's own autovacuum would (VACUUM_RULES). A PostgreSQL server
 * has its own autovacuum and needs none of this.
 */
export class EmbeddedVacuum {
  /** The passes, one after another (the in-process runner of the hub's other periodic work). */
  private readonly job: IntervalJob;

  constructor(
    private readonly db: SqlDriver,
    private readonly logger: Logger,
    private readonly opts: { everyMs?: number; rules?: VacuumRules } = {},
  ) {
    const everyMs = opts.everyMs ?? VACUUM_EVERY_MS;
    this.job = new IntervalJob({
      name: 'vacuum',
      intervalMs: everyMs,
      maxBackoffMs: everyMs,
      initialDelayMs: everyMs,
      run: (signal) => this.pass(signal).then(() => undefined),
      onError: (err) => this.logger.warn({ err: (err as Error).message }, 'embedded store maintenance (vacuum) failed; trying again later'),
    });
  }

  start(): void {
    this.job.start();
  }

  /** Stops after the statement in progress. */
  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass over the tables: what it vacuumed and analyzed. */
  async pass(signal?: AbortSignal): Promise<VacuumPass> {
    const rules = this.opts.rules ?? VACUUM_RULES;
    // The counters of this connection's last statements are flushed at most once a second unless
    // asked: asked, they are in the view for the next statement.
    await this.db.query('SELECT pg_stat_force_next_flush()');
    const tables = (await this.db.query<TableStats>(
      `SELECT s.relname, s.n_live_tup::float8 AS n_live_tup, s.n_dead_tup::float8 AS n_dead_tup,
              s.n_mod_since_analyze::float8 AS n_mod_since_analyze, age(c.relfrozenxid)::float8 AS xid_age
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
       WHERE s.schemaname = current_schema() ORDER BY s.n_dead_tup DESC`)).rows;
    const done: VacuumPass = { vacuumed: [], analyzed: [] };
    for (const t of tables) {
      // A node stopping does not wait for the rest of the pass.
      if (signal?.aborted) break;
      const live = Number(t.n_live_tup);
      const dead = Number(t.n_dead_tup) > rules.threshold + rules.scaleFactor * live;
      const old = Number(t.xid_age) > rules.freezeMaxAge;
      const changed = Number(t.n_mod_since_analyze) > rules.analyzeThreshold + rules.analyzeScaleFactor * live;
      if (!dead && !old && !changed) continue;
      const table = `"${t.relname.replace(/"/g, '""')}"`;
      const statement = dead || old ? `VACUUM ${changed ? '(ANALYZE) ' : ''}${table}` : `ANALYZE ${table}`;
      const started = Date.now();
      await this.db.query(statement);
      const ms = Date.now() - started;
      (dead || old ? done.vacuumed : done.analyzed).push(t.relname);
      const fields = { table: t.relname, statement: statement.split(' ')[0], deadRows: Number(t.n_dead_tup), liveRows: live, xidAge: Number(t.xid_age), ms };
      if (ms >= SLOW_MS) this.logger.info(fields, 'embedded store table vacuumed; it held the store meanwhile');
      else this.logger.debug(fields, 'embedded store table vacuumed');
    }
    return done;
  }
}
