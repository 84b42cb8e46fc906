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
  /** Calls listener after every transaction the store commits; returns the way to stop. */
  onCommit(listener: () => void): () => void;
  close(): Promise<void>;
}

/** `observe`: shown every statement the store sends, before it runs (see StatementObserver). */
export async function openStore(opts: { store: string; dataDir: string; region: string; observe?: StatementObserver }): Promise<Store> {
  const driver = new CommitSignallingDriver(await openDriver(opts.store, opts.dataDir, opts.observe));
  const cases = new CaseStore(driver, opts.region);
  return {
    driver,
    inbox: new Inbox(driver),
    cases,
    supervision: new SupervisionStore(driver, cases),
    audit: new AuditLog(driver, opts.dataDir),
    deadLetters: new DeadLetterStore(driver),
    leases: new StoreLeases(driver),
    cursors: new PollCursorStore(driver),
    files: new StoreFileLedgers(driver),
    outbox: new OutboxStore(driver),
    onCommit: (listener) => driver.onCommit(listener),
    close: () => driver.close(),
  };
}
