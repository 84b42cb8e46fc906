import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import type { SqlDriver, SqlExecutor } from './sql-driver';
import type { Inbox as InboxPort, RawMessage } from '../../core/ports/inbox';
export type { RawMessage };
import { PgliteDriver } from './pglite-driver';
import { PostgresDriver } from './postgres-driver';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/** Opens the store the configuration names: `embedded` (PGlite in dataDir/store) or a postgres:// URL. */
export async function openDriver(store: string, dataDir: string): Promise<SqlDriver> {
  const driver = store === 'embedded' || store === 'pglite'
    ? await PgliteDriver.open(path.join(dataDir, 'store'))
    : /^postgres(ql)?:\/\//.test(store) ? await PostgresDriver.open(store)
    : (() => { throw new Error(`HUB_STORE must be "embedded" or a postgres:// URL, not ${JSON.stringify(store)}`); })();
  await migrate(driver);
  return driver;
}

/** Applies the SQL files of migrations/ in name order, once each, under a lock (several nodes may start at once). */
export async function migrate(db: SqlDriver): Promise<string[]> {
  const dir = fs.existsSync(MIGRATIONS_DIR) ? MIGRATIONS_DIR : path.join(__dirname, '..', '..', '..', 'services', 'store', 'migrations');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  await db.exec('CREATE TABLE IF NOT EXISTS hub_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7342001)');
    const done = new Set((await tx.query<{ id: string }>('SELECT id FROM hub_migrations')).rows.map((r) => r.id));
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

function splitStatements(sql: string): string[] {
  return sql.split(/;\s*$/m).map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
}

/** Raw messages exactly as received, stored before any answer. */
export class Inbox implements InboxPort {
  constructor(private readonly db: SqlDriver) {}

  /** Stores the bytes durably and returns the raw message (its id is the provenance of every event). */
  async put(adapter: string, body: Buffer, contentType: string | null, headers: Record<string, string>): Promise<RawMessage> {
    const msg: RawMessage = {
      id: randomUUID(), adapter, receivedAt: new Date(), contentType, headers, body,
      sha256: createHash('sha256').update(body).digest('hex'),
    };
    await this.db.query(
      'INSERT INTO inbox (id, adapter, received_at, content_type, headers, body, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [msg.id, adapter, msg.receivedAt.toISOString(), contentType, JSON.stringify(headers), body, msg.sha256],
    );
    return msg;
  }

  /** Records a raw message's outcome; inside the caller's transaction when one is given. */
  async markProcessed(id: string, records: number, result: unknown, tx: SqlExecutor = this.db): Promise<void> {
    await tx.query("UPDATE inbox SET state = 'processed', records = $2, result = $3, processed_at = now() WHERE id = $1", [id, records, JSON.stringify(result)]);
  }

  async get(id: string): Promise<RawMessage | null> {
    const r = await this.db.query<any>('SELECT id, adapter, received_at, content_type, headers, body, sha256 FROM inbox WHERE id = $1', [id]);
    return r.rows[0] ? toRaw(r.rows[0]) : null;
  }

  /** Raw messages stored but never processed (the hub stopped between storing and answering). */
  async pending(adapter: string, limit = 100): Promise<RawMessage[]> {
    const r = await this.db.query<any>(
      "SELECT id, adapter, received_at, content_type, headers, body, sha256 FROM inbox WHERE state = 'received' AND adapter = $1 ORDER BY received_at LIMIT $2",
      [adapter, limit]);
    return r.rows.map(toRaw);
  }
}

function toRaw(r: any): RawMessage {
  return {
    id: r.id, adapter: r.adapter, receivedAt: new Date(r.received_at), contentType: r.content_type, headers: r.headers,
    body: Buffer.from(r.body), sha256: r.sha256,
  };
}
