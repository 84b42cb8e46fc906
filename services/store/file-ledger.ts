import type { SqlDriver, SqlExecutor } from './sql-driver';
import { RetryableError } from '../../core/kernel/errors';
import { LostClaim, FileLedger, FileLedgers, FileRow, StoredResults } from '../../core/ports/file-ledger';

const COLUMNS = `id, adapter, name, state, owner, (extract(epoch FROM claimed_at) * 1000)::float8 AS claimed_ms, path,
  sha256, size::text AS size, batch, records, records_done, accepted, duplicates, rejected, error, duplicate_of, (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms,
  receipt_staged_at IS NOT NULL AS receipt_staged`;

/**
 * The store's record of every file an adapter took: which holder of the adapter's watch lease has
 * it, how far it got, and its outcome. Progress is written in the transaction that applies the
 * records, so that after a crash a file resumes exactly where its last committed chunk ended.
 */
export class FileDropLedger implements FileLedger {
  constructor(private readonly db: SqlDriver, private readonly adapter: string, private readonly owner: string) {}

  async claim(id: string, name: string, path: string): Promise<FileRow> {
    const r = await this.db.query(
      `INSERT INTO file_drops (id, adapter, name, state, owner, path) VALUES ($1, $2, $3, 'claimed', $4, $5) RETURNING ${COLUMNS}`,
      [id, this.adapter, name, this.owner, path]);
    return toRow(r.rows[0]);
  }

  /** A claim that never took its file (another process renamed it first). */
  async forget(id: string): Promise<void> {
    await this.db.query("DELETE FROM file_drops WHERE id = $1 AND state = 'claimed' AND owner = $2", [id, this.owner]);
  }

  async get(id: string): Promise<FileRow | null> {
    const r = await this.db.query(`SELECT ${COLUMNS} FROM file_drops WHERE id = $1`, [id]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  /** Files of this adapter not yet archived, oldest claim first. */
  async open(): Promise<FileRow[]> {
    const r = await this.db.query(`SELECT ${COLUMNS} FROM file_drops WHERE adapter = $1 AND archived_at IS NULL ORDER BY claimed_at, name`, [this.adapter]);
    return r.rows.map(toRow);
  }

  /**
   * Takes over a file of an earlier holder of the watch lease; null when the row changed owner
   * meanwhile. Waits for a chunk that holder may still be committing (the row's lock), and answers
   * the progress after it.
   */
  async takeOver(row: FileRow): Promise<FileRow | null> {
    const r = await this.db.query(`UPDATE file_drops SET owner = $3 WHERE id = $1 AND owner = $2 RETURNING ${COLUMNS}`, [row.id, row.owner, this.owner]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  /**
   * Records what the checking pass found. A file whose bytes equal an earlier file's becomes that
   * file's duplicate (the unique index decides between two nodes checking copies at once).
   */
  async validated(id: string, v: { sha256: string | null; size: number; batch: Record<string, string>; records: number; error: string | null }): Promise<FileRow> {
    try {
      const r = await this.db.query(
        `UPDATE file_drops SET sha256 = $3, size = $4, batch = $5, records = $6, error = $7,
           state = CASE WHEN $7::text IS NULL THEN 'applying' ELSE 'failed' END,
           finished_at = CASE WHEN $7::text IS NULL THEN NULL ELSE now() END
         WHERE id = $1 AND owner = $2 RETURNING ${COLUMNS}`,
        [id, this.owner, v.sha256, v.size, JSON.stringify(v.batch), v.records, v.error]);
      if (!r.rows[0]) throw new LostClaim(id, this.adapter);
      return toRow(r.rows[0]);
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
    }
    const r = await this.db.query(
      `UPDATE file_drops SET sha256 = $3, size = $4, batch = $5, state = 'duplicate',
         duplicate_of = (SELECT o.id FROM file_drops o WHERE o.adapter = $6 AND o.sha256 = $3 AND o.duplicate_of IS NULL AND o.purged_at IS NULL)
       WHERE id = $1 AND owner = $2 RETURNING ${COLUMNS}`,
      [id, this.owner, v.sha256, v.size, JSON.stringify(v.batch), this.adapter]);
    if (!r.rows[0]) throw new LostClaim(id, this.adapter);
    return toRow(r.rows[0]);
  }

  /**
   * Inside the chunk's transaction: locks the file's row and checks that this node still holds it
   * and that the chunk starts where the committed progress ends (so no record is applied twice).
   */
  async lockChunk(tx: SqlExecutor, id: string, first: number): Promise<void> {
    const r = await tx.query<{ owner: string; records_done: number }>('SELECT owner, records_done FROM file_drops WHERE id = $1 FOR UPDATE', [id]);
    const row = r.rows[0];
    if (!row || row.owner !== this.owner) throw new LostClaim(id, this.adapter);
    if (row.records_done !== first) throw new RetryableError(`file ${id}: chunk starts at record ${first} but ${row.records_done} are done`, 'PROGRESS_MISMATCH', { adapter: this.adapter, file: id });
  }

  /** Inside the chunk's transaction: its results and the file's progress; the last chunk finishes the file. */
  async saveChunk(tx: SqlExecutor, id: string, first: number, results: StoredResults, counts: { accepted: number; duplicates: number; rejected: number }): Promise<void> {
    const n = results.entries.length;
    await tx.query('INSERT INTO file_drop_results (file_id, first, results) VALUES ($1, $2, $3)', [id, first, JSON.stringify(results)]);
    await tx.query(
      `UPDATE file_drops SET records_done = records_done + $2, accepted = accepted + $3, duplicates = duplicates + $4, rejected = rejected + $5,
         state = CASE WHEN records_done + $2 >= records THEN 'applied' ELSE state END,
         finished_at = CASE WHEN records_done + $2 >= records THEN now() ELSE finished_at END
       WHERE id = $1`,
      [id, n, counts.accepted, counts.duplicates, counts.rejected]);
  }

  /** A file with no records at all is applied as soon as it is checked. */
  async finishEmpty(id: string): Promise<FileRow> {
    const r = await this.db.query(`UPDATE file_drops SET state = 'applied', finished_at = now() WHERE id = $1 AND owner = $2 AND records_done >= records RETURNING ${COLUMNS}`, [id, this.owner]);
    if (!r.rows[0]) throw new LostClaim(id, this.adapter);
    return toRow(r.rows[0]);
  }

  /** The stored results of a file, chunk after chunk in file order, a few chunks per query. */
  async *results(id: string): AsyncIterable<StoredResults> {
    let after = -1;
    for (;;) {
      const r = await this.db.query<{ first: number; results: string }>('SELECT first, results FROM file_drop_results WHERE file_id = $1 AND first > $2 ORDER BY first LIMIT 5', [id, after]);
      if (!r.rows.length) return;
      for (const row of r.rows) {
        after = row.first;
        yield JSON.parse(row.results) as StoredResults;
      }
    }
  }

  async receiptStaged(id: string): Promise<FileRow> {
    const r = await this.db.query(`UPDATE file_drops SET receipt_staged_at = now() WHERE id = $1 AND owner = $2 RETURNING ${COLUMNS}`, [id, this.owner]);
    if (!r.rows[0]) throw new LostClaim(id, this.adapter);
    return toRow(r.rows[0]);
  }

  async receipted(id: string): Promise<FileRow> {
    const r = await this.db.query(
      `UPDATE file_drops SET state = 'receipted', receipted_at = now(), finished_at = coalesce(finished_at, now()) WHERE id = $1 AND owner = $2 RETURNING ${COLUMNS}`, [id, this.owner]);
    if (!r.rows[0]) throw new LostClaim(id, this.adapter);
    return toRow(r.rows[0]);
  }

  async archived(id: string, path: string): Promise<void> {
    await this.db.query("UPDATE file_drops SET state = 'archived', archived_at = now(), path = $3 WHERE id = $1 AND owner = $2", [id, this.owner, path]);
  }

  /** Archived files past the retention period (their copies and results are deleted next). */
  async expired(retentionDays: number, limit = 100): Promise<{ id: string; path: string }[]> {
    const r = await this.db.query<{ id: string; path: string }>(
      `SELECT id, path FROM file_drops WHERE adapter = $1 AND purged_at IS NULL AND archived_at < now() - make_interval(days => $2) ORDER BY archived_at LIMIT $3`,
      [this.adapter, retentionDays, limit]);
    return r.rows;
  }

  /** Forgets a file's results; a later copy of it is then taken as a new file (its records are duplicates by event id). */
  async purge(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM file_drop_results WHERE file_id = $1', [id]);
      await tx.query('UPDATE file_drops SET purged_at = now() WHERE id = $1', [id]);
    });
  }
}

function toRow(r: any): FileRow {
  return {
    id: r.id, adapter: r.adapter, name: r.name, state: r.state, owner: r.owner, claimedAt: new Date(Number(r.claimed_ms)), path: r.path, sha256: r.sha256,
    size: r.size === null ? null : Number(r.size), batch: typeof r.batch === 'string' ? JSON.parse(r.batch) : r.batch, records: r.records,
    recordsDone: r.records_done, accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected, error: r.error, duplicateOf: r.duplicate_of,
    finishedAt: r.finished_ms === null ? null : new Date(Number(r.finished_ms)),
    receiptStaged: r.receipt_staged === true || r.receipt_staged === 't',
  };
}

/** The file ledgers on one store. */
export class StoreFileLedgers implements FileLedgers {
  constructor(private readonly db: SqlDriver) {}

  ledger(adapter: string, owner: string): FileLedger {
    return new FileDropLedger(this.db, adapter, owner);
  }

  /** When an adapter's newest file was taken from its drop folder; null when it never took one (a few rows a day: no index needed). */
  async newest(adapter: string): Promise<Date | null> {
    const r = await this.db.query<{ at: string | Date | null }>('SELECT max(claimed_at) AS at FROM file_drops WHERE adapter = $1', [adapter]);
    return r.rows[0]?.at ? new Date(r.rows[0].at) : null;
  }
}
