import type { RecordMapper } from '../../../../core/ports/mapping';
import type { CaseEvent } from '../../../../contracts/types';
import type { MappedRecord } from '../../../../core/ports/intake';
import { readBatchFile, BatchFileFormat } from '../../xml/batch-file';
import { mayBeRefused, prepareEvent } from '../../../../core/ports/event-row';
import { DataKeys } from '../../../../core/kernel/data-keys';

/** Consecutive records of a file, mapped, applied in one transaction with the file's progress. */
export interface MappedChunk {
  /** Index of the chunk's first record in the file. */
  first: number;
  items: MappedRecord[];
}

export interface RecordJob {
  file: string;
  format: BatchFileFormat;
  /** The file's id: provenance of its events and dead letters. */
  rawMessageId: string;
  /** The batch attributes the checking pass read (`$batch.X` in profiles). */
  batch: Record<string, string>;
  /** Records already applied (a resumed file). */
  skip: number;
  chunkRecords: number;
  /** The record fields the file's receipt names: all that is kept of a record that cannot be refused any more (slimRecord). */
  receiptFields: readonly string[];
  /** The data keys' file: events are sealed as they are prepared (a worker thread opens it itself). */
  keyFile: string;
}

/**
 * Reads a checked file's records after `skip` and maps each through the profile (its event
 * prepared too, off the store's thread when this runs in a worker: prepareEvent), handing them on in chunks. `deliver` is awaited before more of the file is read, so memory holds a chunk or two
 * whatever the file's size.
 */
export async function mapFileRecords(job: RecordJob, profile: RecordMapper, deliver: (chunk: MappedChunk) => Promise<void>, keys: DataKeys = DataKeys.open(job.keyFile)): Promise<number> {
  let items: MappedRecord[] = [];
  let first = job.skip;
  let total = 0;
  const flush = async () => {
    const chunk = { first, items };
    first += items.length;
    total += items.length;
    items = [];
    await deliver(chunk);
  };
  await readBatchFile(job.file, job.format, {
    skip: job.skip,
    onRecords: async (records) => {
      for (const { index, record } of records) {
        const r = await profile.mapRecord(record, { rawMessageId: job.rawMessageId, recordIndex: index, batch: job.batch });
        items.push(r.ok ? { index, record: slimRecord(record, r.event, job.receiptFields), event: prepareEvent(r.event, keys) } : { index, record, failure: r.failure, deadLetter: true });
        if (items.length >= job.chunkRecords) await flush();
      }
    },
  });
  if (items.length) await flush();
  return total;
}

/**
 * What travels on of a mapped record. A dead letter keeps a refused record whole, and after mapping
 * only the case store can still refuse one (mayBeRefused). Any other record is needed only for its
 * receipt line, so that alone is kept: a chunk crosses to the store's thread with less to copy and
 * to collect there.
 */
export function slimRecord(record: unknown, event: CaseEvent, fields: readonly string[]): unknown {
  if (mayBeRefused(event) || record === null || typeof record !== 'object') return record;
  const slim: Record<string, unknown> = {};
  for (const f of fields) if (f in record) slim[f] = (record as Record<string, unknown>)[f];
  return slim;
}
