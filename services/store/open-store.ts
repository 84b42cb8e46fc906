import type { SqlDriver } from './sql-driver';
import { openDriver, Inbox } from './store';
import { CaseStore } from '../cases/case-store';
import { DeadLetterStore } from '../cases/dead-letter-store';
import { StoreLeases } from './job-lease';
import { PollCursorStore } from './poll-cursors';
import { StoreFileLedgers } from './file-ledger';

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
  close(): Promise<void>;
}

export async function openStore(opts: { store: string; dataDir: string; region: string }): Promise<Store> {
  const driver = await openDriver(opts.store, opts.dataDir);
  return {
    driver,
    inbox: new Inbox(driver),
    cases: new CaseStore(driver, opts.region),
    deadLetters: new DeadLetterStore(driver),
    leases: new StoreLeases(driver),
    cursors: new PollCursorStore(driver),
    files: new StoreFileLedgers(driver),
    close: () => driver.close(),
  };
}
