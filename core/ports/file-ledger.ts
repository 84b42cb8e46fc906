import { RetryableError } from '../kernel/errors';
import type { Transaction } from './sql';

/** How far a dropped file got and what it gave: kept in the store's file_drops row. */
export interface FileProgress {
  /** Attributes of the batch element (the department's batch number…), once the file was read. */
  batch: Record<string, string> | null;
  records: number | null;
  recordsDone: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Why the whole file was refused; nothing of it was applied. */
  error: string | null;
  /** The earlier file with the same bytes, whose receipt this one got. */
  duplicateOf: string | null;
}

/** One record's line of the receipt, kept in the store until the receipt is written. */
export type ReceiptEntry = [ok: 0 | 1, codeOrReason: string, ...fields: string[]];

/** The per-record results of a chunk as stored: the record fields the receipt names, then the entries. */
export interface StoredResults {
  fields: string[];
  entries: ReceiptEntry[];
}

export type FileState = 'claimed' | 'applying' | 'applied' | 'failed' | 'duplicate' | 'receipted' | 'archived';

export interface FileRow extends FileProgress {
  id: string;
  adapter: string;
  name: string;
  state: FileState;
  /** The holder of the adapter's watch lease (Lease.owner) that took the file, or took it over last. */
  owner: string;
  claimedAt: Date;
  path: string;
  sha256: string | null;
  size: number | null;
  finishedAt: Date | null;
  /** The receipt was staged whole: what remains is publishing it (see publishReceipt). */
  receiptStaged: boolean;
}

/** Another node took the file over (this node stalled past the watch lease): its work on the file stops. */
export class LostClaim extends RetryableError {
  constructor(file: string, adapter: string) {
    super(`file ${file} of ${adapter} is no longer claimed by this node`, 'LOST_CLAIM', { adapter, file });
  }
}


/**
 * The store's record of every file an adapter took (table file_drops): who took it, progress,
 * outcome. A file belongs to the node holding the adapter's watch lease (core/ports/jobs): the row
 * names that holder, and a node that takes the lease over takes over the files of the last one.
 * Every write checks the row still names this holder, so that a node that lost the lease (it
 * stalled) can no longer change a file another node works on.
 */
export interface FileLedger {
  claim(id: string, name: string, path: string): Promise<FileRow>;
  /** A claim that never took its file (another process renamed it first). */
  forget(id: string): Promise<void>;
  get(id: string): Promise<FileRow | null>;
  /** Files of this adapter not yet archived, oldest claim first. */
  open(): Promise<FileRow[]>;
  /** Takes over a file of an earlier holder of the watch lease (this node holds it now); null when the row changed owner meanwhile. */
  takeOver(row: FileRow): Promise<FileRow | null>;
  validated(id: string, v: { sha256: string | null; size: number; batch: Record<string, string>; records: number; error: string | null }): Promise<FileRow>;
  lockChunk(tx: Transaction, id: string, first: number): Promise<void>;
  /** Inside the chunk's transaction: its results and the file's progress; the last chunk finishes the file. */
  saveChunk(tx: Transaction, id: string, first: number, results: StoredResults, counts: { accepted: number; duplicates: number; rejected: number }): Promise<void>;
  /** A file with no records at all is applied as soon as it is checked. */
  finishEmpty(id: string): Promise<FileRow>;
  /** The stored results of a file, chunk after chunk in file order, a few chunks per query. */
  results(id: string): AsyncIterable<StoredResults>;
  receiptStaged(id: string): Promise<FileRow>;
  receipted(id: string): Promise<FileRow>;
  archived(id: string, path: string): Promise<void>;
  /** Forgets a file's results; a later copy of it is then taken as a new file (its records are duplicates by event id). */
  /** Archived files past the retention period (their copies and results are deleted next). */
  expired(retentionDays: number, limit?: number): Promise<{ id: string; path: string }[]>;
  purge(id: string): Promise<void>;
}

/** The file ledgers of the adapters that take dropped files, one per adapter and holder of its watch lease. */
export interface FileLedgers {
  /** `owner`: the Lease.owner of the adapter's watch lease, as this node holds it. */
  ledger(adapter: string, owner: string): FileLedger;
}
