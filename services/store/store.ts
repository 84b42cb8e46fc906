import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { jsonParam, SqlDriver, SqlExecutor, StatementObserver } from './sql-driver';
import type { Inbox as InboxPort, RawMessage } from '../../core/ports/inbox';
export type { RawMessage };

/** A raw message to store: what a transport received. */
export interface NewRawMessage {
  adapter: string;
  body: Buffer;
  contentType: string | null;
  headers: Record<string, string>;
}
import { PgliteDriver } from './pglite-driver';
import { holderIsGone, newClaimant } from '../../core/kernel/claimant';
import { ConfigError, RetryableError } from '../../core/kernel/errors';
import { PostgresDriver } from './postgres-driver';
import type { DataKeys } from '../../core/kernel/data-keys';
import { SEALED } from '../../core/ports/sealed-data';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/**
 * Opens the store the configuration names: `embedded` (PGlite in dataDir/store) or a postgres:// URL.
 * An observer, when given, is shown every statement the driver sends. `poolSize`: connections to a
 * PostgreSQL store (the embedded one is a single backend); `cacheMb`: the embedded store's page
 * cache (a PostgreSQL server has its own shared_buffers).
 */
export async function openDriver(store: string, dataDir: string, observe?: StatementObserver, sizes: { poolSize?: number; cacheMb?: number } = {}): Promise<SqlDriver> {
  const driver = store === 'embedded' || store === 'pglite'
    ? await PgliteDriver.open(path.join(dataDir, 'store'), observe, { cacheMb: sizes.cacheMb })
    : /^postgres(ql)?:\/\//.test(store) ? await PostgresDriver.open(store, sizes.poolSize, observe)
    : (() => { throw new Error(`HUB_STORE must be "embedded" or a postgres:// URL, not ${JSON.stringify(store)}`); })();
  try {
    await migrate(driver);
  } catch (err) {
    // A node that refuses the store (or fails to migrate it) lets go of it: the PGlite files, the pool.
    await driver.close().catch(() => undefined);
    throw err;
  }
  return driver;
}

/** The folder of this version's migrations: beside the compiled code, or in the sources when it is not copied there. */
export function migrationsDir(): string {
  return fs.existsSync(MIGRATIONS_DIR) ? MIGRATIONS_DIR : path.join(__dirname, '..', '..', '..', 'services', 'store', 'migrations');
}

/**
 * Applies the SQL files of migrations/ in name order, once each, under a lock (several nodes may
 * start at once). A store that holds a migration this version does not have was migrated by a newer
 * version, whose layout this one does not know: it is refused before anything is applied, under the
 * same lock, so that a node of the old version starting beside a new one either finishes before the
 * new one migrates or sees its migrations and stops. `dir`: another folder of migrations (tests).
 */
export async function migrate(db: SqlDriver, dir: string = migrationsDir()): Promise<string[]> {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7342001)');
    // Under the lock: two nodes starting together on a fresh database would otherwise both create
    // the table, and the second fail on PostgreSQL's catalogue ("duplicate key … pg_type").
    await tx.query('CREATE TABLE IF NOT EXISTS hub_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await tx.query<{ id: string }>('SELECT id FROM hub_migrations')).rows.map((r) => r.id));
    const known = new Set(files);
    const unknown = [...done].filter((id) => !known.has(id)).sort();
    if (unknown.length) throw newerStore(unknown, files[files.length - 1] ?? null);
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = fs.readFileSync(path.join(dir, f), 'utf8');
      for (const stmt of splitStatements(sql)) await tx.query(stmt);
      await tx.query('INSERT INTO hub_migrations (id) VALUES ($1)', [f]);
      applied.push(f);
    }
  });
  return applied;
}

/** The refusal of a store migrated by a newer version: it names the migrations, and what to start instead. */
function newerStore(unknown: string[], last: string | null): ConfigError {
  const which = unknown.length === 1 ? `migration ${unknown[0]} is` : `migrations ${unknown.join(', ')} are`;
  return new ConfigError(
    `the store was migrated by a newer version of the hub (${which} unknown to this one, whose last is ${last ?? 'none'}): start this node from that version, or newer`,
    { field: 'HUB_STORE', value: unknown, rule: 'one version per store' });
}

function splitStatements(sql: string): string[] {
  return sql.split(/;\s*$/m).map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
}

/**
 * Seconds a node holds the raw messages it works on (those it received, those it recovers). Far
 * longer than a message takes; a holder that died is replaced once it runs out.
 */
export const INBOX_CLAIM_SECONDS = 120;

/**
 * Raw messages exactly as received, stored before any answer. Each one not yet processed is claimed
 * by the node working on it, so that a node recovering pending messages at its start never takes
 * one that a live node is answering or recovering.
 */
export class Inbox implements InboxPort {
  private readonly me = newClaimant();

  constructor(private readonly db: SqlDriver, private readonly keys: DataKeys) {}

  /** Stores the bytes durably (sealed: they hold personal data), claimed by this node, and returns the raw message (its id is the provenance of every event). */
  async put(adapter: string, body: Buffer, contentType: string | null, headers: Record<string, string>): Promise<RawMessage> {
    return (await this.putMany([{ adapter, body, contentType, headers }]))[0];
  }

  /** As put, for several messages in one statement (concurrent requests stored together). */
  async putMany(items: readonly NewRawMessage[]): Promise<RawMessage[]> {
    const COLUMNS = 11;
    const values: unknown[] = [];
    const rows: string[] = [];
    const out = items.map(({ adapter, body, contentType, headers }, n): RawMessage => {
      const msg: RawMessage = {
        id: randomUUID(), adapter, receivedAt: new Date(), contentType, headers, body,
        sha256: createHash('sha256').update(body).digest('hex'),
      };
      const b = n * COLUMNS;
      rows.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}, $${b + 10}, now() + make_interval(secs => $${b + 11}))`);
      values.push(msg.id, adapter, msg.receivedAt.toISOString(), contentType, JSON.stringify(headers), this.keys.sealBytes(body, SEALED.inbox), msg.sha256, this.me.id, this.me.host, this.me.pid, INBOX_CLAIM_SECONDS);
      return msg;
    });
    if (!out.length) return out;
    await this.db.query(
      `INSERT INTO inbox (id, adapter, received_at, content_type, headers, body, sha256, claimed_by, claimed_host, claimed_pid, claimed_until)
       VALUES ${rows.join(',\n       ')}`,
      values,
    );
    return out;
  }

  /**
   * Records a raw message's outcome; inside the caller's transaction when one is given. A message
   * another node has processed meanwhile (this node's claim ran out) is refused, so that its
   * records are not applied a second time: the caller's transaction rolls back.
   */
  async markProcessed(id: string, records: number, result: unknown, tx: SqlExecutor = this.db): Promise<void> {
    await this.markProcessedMany([{ id, records, result }], tx);
  }

  /** As markProcessed, for several messages in one statement (those committed together); refused if any one was processed elsewhere. */
  async markProcessedMany(outcomes: readonly { id: string; records: number; result: unknown }[], tx: SqlExecutor = this.db): Promise<void> {
    if (!outcomes.length) return;
    const r = await tx.query<{ id: string }>(
      `UPDATE inbox SET state = 'processed', records = x.records, result = x.result, processed_at = now()
       FROM json_to_recordset($1::json) AS x(id text, records int, result jsonb)
       WHERE inbox.id = x.id AND inbox.state = 'received' RETURNING inbox.id`,
      [jsonParam(JSON.stringify(outcomes.map(({ id, records, result }) => ({ id, records, result }))))]);
    if (r.rows.length === outcomes.length) return;
    const done = new Set(r.rows.map((x) => String(x.id)));
    const id = outcomes.find((o) => !done.has(o.id))!.id;
    throw new RetryableError(`raw message ${id} was processed by another node`, 'PROCESSED_ELSEWHERE', { messageId: id });
  }

  /** When the newest raw message of an adapter was received; null when it has none. */
  async newest(adapter: string): Promise<Date | null> {
    const r = await this.db.query<{ at: string | Date | null }>('SELECT max(received_at) AS at FROM inbox WHERE adapter = $1', [adapter]);
    return r.rows[0]?.at ? new Date(r.rows[0].at) : null;
  }

  async get(id: string): Promise<RawMessage | null> {
    const r = await this.db.query<any>('SELECT id, adapter, received_at, content_type, headers, body, sha256 FROM inbox WHERE id = $1', [id]);
    return r.rows[0] ? this.toRaw(r.rows[0]) : null;
  }

  /**
   * Raw messages stored but never processed (a node stopped between storing and answering), oldest
   * first, each claimed for this node for INBOX_CLAIM_SECONDS: only those no live node holds (never
   * claimed, released at a stop, run out, or held by a process of this machine that no longer
   * runs). Rows another node is claiming at the same moment are skipped, not waited for.
   */
  async pending(adapter: string, limit = 100): Promise<RawMessage[]> {
    const gone = await this.goneHolders(adapter);
    const r = await this.db.query<any>(
      `UPDATE inbox SET claimed_by = $3, claimed_host = $4, claimed_pid = $5, claimed_until = now() + make_interval(secs => $6)
       WHERE id IN (
         SELECT id FROM inbox
         WHERE state = 'received' AND adapter = $1 AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = ANY($7::text[]))
         ORDER BY received_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING id, adapter, received_at, content_type, headers, body, sha256`,
      [adapter, limit, this.me.id, this.me.host, this.me.pid, INBOX_CLAIM_SECONDS, gone]);
    return r.rows.map((x: any) => this.toRaw(x)).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
  }

  private toRaw(r: any): RawMessage {
    return {
      id: r.id, adapter: r.adapter, receivedAt: new Date(r.received_at), contentType: r.content_type, headers: r.headers,
      body: this.keys.openBytes(r.body, SEALED.inbox), sha256: r.sha256,
    };
  }

  /** Gives up this node's claims on what it received and did not finish (a stop), so that the next node to start need not wait for them to run out. */
  async releaseClaims(): Promise<void> {
    await this.db.query("UPDATE inbox SET claimed_until = NULL WHERE state = 'received' AND claimed_by = $1", [this.me.id]);
  }

  /**
   * Holders of live claims on an adapter's pending messages that were processes of this machine and
   * no longer run. A holder with this process's pid is never taken for gone: it may be another hub
   * in this very process.
   */
  private async goneHolders(adapter: string): Promise<string[]> {
    const r = await this.db.query<{ claimed_by: string; claimed_pid: number }>(
      `SELECT DISTINCT claimed_by, claimed_pid FROM inbox
       WHERE state = 'received' AND adapter = $1 AND claimed_until >= now() AND claimed_host = $2 AND claimed_pid <> $3`,
      [adapter, this.me.host, this.me.pid]);
    return r.rows.filter((h) => holderIsGone(this.me, { host: this.me.host, pid: h.claimed_pid })).map((h) => h.claimed_by);
  }
}

