import type { SqlDriver, StatementObserver } from './sql-driver';
import { openDriver, Inbox } from './store';
import { CaseStore } from '../cases/case-store';
import { DeadLetterStore } from '../cases/dead-letter-store';
import { StoreLeases } from './job-lease';
import { PollCursorStore } from './poll-cursors';
import { StoreFileLedgers } from './file-ledger';
import { OutboxStore } from '../outbox/outbox-store';
import { CommitSignallingDriver } from '../outbox/commit-signal';
import { SupervisionStore } from '../supervisor/supervision-store';
import { AuditLog } from '../audit/audit-log';
import { DataKeys, DataKeyError } from '../../core/kernel/data-keys';
import path from 'node:path';

/** Where a node keeps its data keys when HUB_DATA_KEY_FILE names no file: made on first start (one node, or the demo). */
export function defaultKeyFile(dataDir: string): string {
  return path.join(dataDir, 'keys', 'data-keys.json');
}

/** The store port as services receive it: one driver, and the stores built on it. */
export interface Store {
  driver: SqlDriver;
  inbox: Inbox;
  cases: CaseStore;
  deadLetters: DeadLetterStore;
  /** Leases on jobs one node at a time runs. */
  leases: StoreLeases;
  /** The pollers' cursors. */
  cursors: PollCursorStore;
  /** The file ledgers of the drop folders. */
  files: StoreFileLedgers;
  /** Events committed and not yet published on the bus. */
  outbox: OutboxStore;
  /** The supervisor's lights, statistics counters and alerts. */
  supervision: SupervisionStore;
  /** The tamper-evident access log. */
  audit: AuditLog;
  /** The keys personal data at rest is sealed under. */
  keys: DataKeys;
  /** Calls listener after every transaction the store commits; returns the way to stop. */
  onCommit(listener: () => void): () => void;
  close(): Promise<void>;
}

/**
 * `observe`: shown every statement the store sends, before it runs (see StatementObserver).
 * `keyFile`: the data keys (HUB_DATA_KEY_FILE); unset, the file under the data directory, made on
 * first start. A node whose keys do not include every key the store's values are sealed under
 * refuses to open the store.
 */
export async function openStore(opts: { store: string; dataDir: string; region: string; keyFile?: string; observe?: StatementObserver; poolSize?: number; cacheMb?: number }): Promise<Store> {
  const keys = DataKeys.open(opts.keyFile ?? defaultKeyFile(opts.dataDir), { create: !opts.keyFile });
  const driver = new CommitSignallingDriver(await openDriver(opts.store, opts.dataDir, opts.observe, { poolSize: opts.poolSize, cacheMb: opts.cacheMb }));
  try {
    await registerKeys(driver, keys);
  } catch (err) {
    await driver.close();
    throw err;
  }
  const cases = new CaseStore(driver, opts.region, keys);
  return {
    driver,
    keys,
    inbox: new Inbox(driver, keys),
    cases,
    supervision: new SupervisionStore(driver, cases),
    audit: new AuditLog(driver, opts.dataDir),
    deadLetters: new DeadLetterStore(driver, keys),
    leases: new StoreLeases(driver),
    cursors: new PollCursorStore(driver),
    files: new StoreFileLedgers(driver),
    outbox: new OutboxStore(driver, keys),
    onCommit: (listener) => driver.onCommit(listener),
    close: () => driver.close(),
  };
}

/**
 * Records this node's keys in the store, and checks that it holds every key the store knows: a node
 * with another key file would seal values the others cannot open, and fail on theirs.
 */
export async function registerKeys(db: SqlDriver, keys: DataKeys): Promise<void> {
  const mine = keys.fingerprints();
  await db.query(
    'INSERT INTO data_keys (id, fingerprint) SELECT x.id, x.fingerprint FROM json_to_recordset($1::json) AS x(id text, fingerprint text) ON CONFLICT (id) DO NOTHING',
    [JSON.stringify(mine)]);
  const known = (await db.query<{ id: string; fingerprint: string }>('SELECT id, fingerprint FROM data_keys ORDER BY added_at, id')).rows;
  const have = new Map(mine.map((k) => [k.id, k.fingerprint]));
  for (const k of known) {
    if (!have.has(k.id)) {
      throw new DataKeyError(`the store holds values sealed under data key ${k.id}, which this node's key file ${keys.file} does not hold: every node of a hub needs the same key file (HUB_DATA_KEY_FILE)`, { keyId: k.id, file: keys.file });
    }
    if (have.get(k.id) !== k.fingerprint) {
      throw new DataKeyError(`data key ${k.id} of the key file ${keys.file} is not the key the store's values are sealed under: every node of a hub needs the same key file (HUB_DATA_KEY_FILE)`, { keyId: k.id, file: keys.file });
    }
  }
}
