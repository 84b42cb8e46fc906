import type { SqlExecutor } from '../store/sql-driver';
import { Where } from '../store/where';
import type { ListCursor } from '../../core/kernel/list-cursor';

import type { FileProgress } from '../../core/ports/file-ledger';
import { isoBeijing } from '../store/sql-time';
export type { FileProgress };

/** What became of a file a department dropped: the operator's view of it. */
export interface FileDropView extends FileProgress {
  id: string;
  adapter: string;
  name: string;
  outcome: 'in-progress' | 'processed' | 'failed' | 'duplicate';
  /** claimed → applying → applied | failed | duplicate → receipted → archived */
  state: string;
  bytes: number | null;
  claimedAt: string;
  finishedAt: string | null;
  /** When the receipt reached the department's receipts folder; null for an adapter that sends none. */
  receiptedAt: string | null;
  archivedAt: string | null;
}

export type FileOutcome = FileDropView['outcome'];

export interface FileDropFilter {
  adapter?: string;
  outcome?: FileOutcome;
  limit: number;
  /** The last row's (claimed at, id) from the previous page. */
  cursor?: ListCursor | null;
}

const OUTCOME = `CASE WHEN duplicate_of IS NOT NULL THEN 'duplicate' WHEN error IS NOT NULL THEN 'failed'
  WHEN state IN ('applied', 'receipted', 'archived') THEN 'processed' ELSE 'in-progress' END`;
// Microseconds: the claimed time goes back as the next page's cursor.
const TIME = (c: string) => isoBeijing(c, 'us');

/** Files taken from drop folders, newest first. */
export async function listFileDrops(db: SqlExecutor, f: FileDropFilter): Promise<{ rows: FileDropView[]; more: boolean }> {
  const w = new Where();
  if (f.adapter) w.add('adapter = ?', f.adapter);
  if (f.outcome) w.add(`${OUTCOME} = ?`, f.outcome);
  if (f.cursor) w.add('(claimed_at, id) < (?::timestamptz, ?)', f.cursor.time, f.cursor.key);
  const r = await db.query<any>(
    `SELECT id, adapter, name, ${OUTCOME} AS outcome, state, size::text AS size, batch, records, records_done, accepted, duplicates, rejected, error,
            duplicate_of, ${TIME('claimed_at')} AS claimed_at, ${TIME('finished_at')} AS finished_at, ${TIME("CASE WHEN receipt_staged_at IS NOT NULL THEN receipted_at END")} AS receipted_at,
            ${TIME('archived_at')} AS archived_at
     FROM file_drops ${w}
     ORDER BY claimed_at DESC, id DESC LIMIT ${w.param(f.limit + 1)}`, w.params);
  const rows = r.rows.slice(0, f.limit).map((x): FileDropView => ({
    id: x.id, adapter: x.adapter, name: x.name, outcome: x.outcome, state: x.state, bytes: x.size === null ? null : Number(x.size), batch: x.batch,
    records: x.records, recordsDone: x.records_done, accepted: x.accepted, duplicates: x.duplicates, rejected: x.rejected, error: x.error,
    duplicateOf: x.duplicate_of, claimedAt: x.claimed_at, finishedAt: x.finished_at, receiptedAt: x.receipted_at, archivedAt: x.archived_at,
  }));
  return { rows, more: r.rows.length > f.limit };
}
