import { openStore, Store } from '../../services/store/open-store';
import { StoreKind, testDataDir, storeFor } from './hub';
import { createTestDatabase } from './servers';

export interface TestStore {
  /** The store open now. */
  store: Store;
  /** Opens the same store again (after `store.close()`), as a restarted hub would. */
  reopen(): Promise<Store>;
}

/**
 * A store of the given kind for the enclosing describe block: a fresh PostgreSQL database or PGlite
 * folder, opened before its tests and closed (and the database dropped) after them.
 */
export function useStore(kind: StoreKind, label: string): TestStore {
  const t = {} as TestStore;
  let dropDb: (() => Promise<void>) | null = null;
  before(async () => {
    const db = kind === 'postgres' ? await createTestDatabase() : null;
    dropDb = db ? () => db.drop() : null;
    const dataDir = testDataDir(label, storeFor(kind));
    t.reopen = async () => (t.store = await openStore({ store: db ? db.url : 'embedded', dataDir, region: '130100' }));
    await t.reopen();
  });
  after(async () => {
    await t.store?.close();
    await dropDb?.();
  });
  return t;
}
