// Fuzz target: a batch file dropped into the tax bureau's folder. The input is the file; it goes
// through what the file-drop transport does with it: the checking pass (size, encoding, DTD,
// well-formedness, root element, declared count), then, for a file that passed, the applying pass
// (the records mapped chunk by chunk and applied through the intake), and the receipt. A file
// refused as a whole (CorruptFile) is a clean refusal; a throw, a second pass that disagrees with
// the first, a pass whose result depends on how the bytes were split into blocks, a resumed pass
// that maps other records, a receipt that is not well-formed or does not list every record, a
// value the store would refuse are failures.

import fs from 'node:fs';
import path from 'node:path';
import type { FileDropOptions } from '../../../adapters/kit/transports/file-drop/file-drop';
import { mapFileRecords, MappedChunk, RecordJob } from '../../../adapters/kit/transports/file-drop/file-drop-records';
import { recordFields, stageReceipt, receiptPaths, toStoredResults, StoredResults } from '../../../adapters/kit/transports/file-drop/file-drop-receipt';
import { readBatchFile, BatchFileFormat, BatchSummary, CorruptFile } from '../../../adapters/kit/xml/batch-file';
import type { RecordMapper } from '../../../core/ports/mapping';
import type { RecordOutcome } from '../../../core/ports/intake';
import { department } from '../departments';
import { LogCapture, StoreDouble, scratchDir, transportContext } from '../hub-double';
import { checkMapResult } from '../event-checks';
import { holds, InvariantBroken } from '../invariant';
import { readXmlAnswer } from '../xml-answer';

const { def, profile } = department('tax-bureau');
const o = def.transport.options as unknown as FileDropOptions;
const format: BatchFileFormat = {
  root: o.batch.element, record: o.batch.record, countAttribute: o.batch.countAttribute,
  encodings: o.encodings, fallbackEncoding: o.fallbackEncoding, maxBytes: o.maxFileBytes,
};
const receipt = o.receipt!;
const fields = recordFields(receipt);
const store = new StoreDouble();
const log = new LogCapture();
const checked: RecordMapper = {
  adapter: profile.adapter, version: profile.version, file: profile.file,
  mapRecord: async (record, c) => { const r = await profile.mapRecord(record, c); checkMapResult(r); return r; },
};
const { intake } = transportContext(def, checked, store, log);
const dir = scratchDir('xml-drop');
const file = path.join(dir, 'SWSX_11301000000_20261124093000_0001.xml');
const receipts = path.join(dir, 'receipts');
// Small chunks, so that a file of a few records is applied in several transactions, as a large one is.
const CHUNK_RECORDS = 3;

export async function fuzz(data: Buffer): Promise<void> {
  store.reset();
  log.lines = [];
  // The checking pass reads the bytes as the transport reads a file below its worker threshold
  // (blocks of the default size; here the whole input is one block); the applying pass reads the file.
  fs.writeFileSync(file, data);
  const summary = await readBatchFile(data, format);
  if (summary.corrupt) holds(summary.corrupt instanceof CorruptFile, 'the checking pass reports a corrupt file without a CorruptFile', summary.corrupt);

  // The same bytes read in small blocks (a large file's blocks end anywhere, inside a character too).
  const blockBytes = 1 + ((data.length * 7 + (data[0] ?? 0)) % 251);
  const blocks = await readBatchFile(data, format, { blockBytes });
  holds(!!blocks.corrupt === !!summary.corrupt, `the checking pass depends on the block size (${blockBytes} bytes)`, { whole: describeSummary(summary), blocks: describeSummary(blocks) });
  if (!summary.corrupt) {
    holds(JSON.stringify(describeSummary(blocks)) === JSON.stringify(describeSummary(summary)), `the checking pass depends on the block size (${blockBytes} bytes)`, { whole: describeSummary(summary), blocks: describeSummary(blocks) });
  }

  const chunks: StoredResults[] = [];
  let records = 0;
  if (!summary.corrupt) {
    const applied = await applyFile(summary, 0, chunks);
    holds(applied.indices.length === summary.records && applied.indices.every((x, i) => x === i), 'the applying pass did not map every record the checking pass counted, in order', { counted: summary.records, mapped: applied.indices.length });
    records = applied.indices.length;
    // A file resumed after a stop maps the records after the last one committed, to the same events.
    if (records > 1) {
      const skip = records >> 1;
      const resumed = await applyFile(summary, skip, []);
      holds(JSON.stringify(resumed.indices) === JSON.stringify(applied.indices.slice(skip)) && JSON.stringify(resumed.ids) === JSON.stringify(applied.ids.slice(skip)),
        `a file resumed at record ${skip} maps other records`, { first: applied.ids.slice(skip), resumed: resumed.ids });
    }
  }
  holds(store.problems.length === 0, 'the hub handed the store what PostgreSQL refuses', store.problems);
  const errors = log.errors();
  if (errors.length) throw new InvariantBroken('an error of the hub\'s own was logged', errors);
  await checkReceipt(summary, chunks, records);
}

function describeSummary(s: BatchSummary): unknown {
  return { sha256: s.sha256, size: s.size, encoding: s.encoding, batch: s.batch, records: s.records, corrupt: s.corrupt ? s.corrupt.rule : null };
}

/** The applying pass, as the transport runs it: records mapped in chunks, each applied with its receipt lines. */
async function applyFile(summary: BatchSummary, skip: number, chunks: StoredResults[]): Promise<{ indices: number[]; ids: (string | null)[] }> {
  const job: RecordJob = { file, format, rawMessageId: 'fuzz-file', batch: summary.batch, skip, chunkRecords: CHUNK_RECORDS, receiptFields: fields, keyFile: store.keys.file };
  const indices: number[] = [];
  const ids: (string | null)[] = [];
  const source = { adapter: def.id, rawMessageId: 'fuzz-file', receivedAt: new Date(), batch: summary.batch };
  const deliver = async (chunk: MappedChunk) => {
    holds(chunk.first === (indices.length ? indices[indices.length - 1] + 1 : skip), 'a chunk does not start where the last one ended', { first: chunk.first, after: indices[indices.length - 1] });
    for (const item of chunk.items) {
      indices.push(item.index);
      ids.push('event' in item ? item.event.id : item.failure.eventId ?? null);
    }
    await intake.apply(source, chunk.items, {
      commitWith: async (_tx, out: RecordOutcome[]) => {
        const lines = toStoredResults(fields, chunk.items.map((i) => i.record), out);
        store.check(lines, 'receipt lines');
        chunks.push(lines);
      },
    });
  };
  try {
    await mapFileRecords(job, checked, deliver, store.keys);
  } catch (err) {
    if (err instanceof CorruptFile) throw new InvariantBroken(`the applying pass finds the file corrupt (${err.rule}) after the checking pass took it`, err.reason);
    throw err;
  }
  return { indices, ids };
}

/** The receipt the department gets: well-formed, one line per record in file order, or the reason the file was refused. */
async function checkReceipt(summary: BatchSummary, chunks: StoredResults[], records: number): Promise<void> {
  const name = path.basename(file);
  const applied = chunks.reduce((n, c) => n + c.entries.filter((e) => e[0] === 1).length, 0);
  await stageReceipt(receipt, receipts, {
    fileId: 'fuzz', fileName: name, batch: summary.batch, finishedAt: new Date(),
    applied, rejected: records - applied, error: summary.corrupt?.reason ?? null,
    results: (async function* () { yield* chunks; })(),
  });
  const xml = fs.readFileSync(receiptPaths(receipt, receipts, name, 'fuzz').temp, 'utf8');
  const elements = readXmlAnswer(xml, 'the receipt');
  holds(elements[0]?.local === receipt.element, 'the receipt has another root element', xml);
  const lines = elements.filter((e) => e.depth === 1 && e.local === receipt.record.element);
  if (summary.corrupt) {
    const error = elements.find((e) => e.depth === 1 && e.local === receipt.error);
    holds(lines.length === 0 && !!error && error.text.trim() !== '', 'the receipt of a refused file does not say why', xml);
    return;
  }
  holds(lines.length === records, 'the receipt does not have one line per record', { lines: lines.length, records });
}
