import fs from 'node:fs';
import path from 'node:path';
import type { RecordOutcome } from '../../../../core/ports/intake';
import { beijingParts, pad } from '../../../../core/identifiers/calendar-date';
import { exists, fsyncDir, renameIfPresent, writeDurably } from './file-drop-folders';

/**
 * What a department expects back for each file, as its adapter definition describes it: one
 * element per record in file order, counts, and one error element for a file refused as a whole.
 * Values come from a small vocabulary (`batch.PCH`, `record.SWSXBH`, `finishedAt`, `applied`,
 * `rejected`, `records`, `result`, `supervisionCode`, `reason`, `fileName`).
 */
export interface ReceiptSpec {
  /** Folder the receipts go to, relative to the drop folder (or absolute). */
  dir: string;
  /** `{base}` is the file's name without its extension, `{name}` the whole name. */
  name: string;
  /** Empty marker written after the receipt (`.ok`); none when absent. */
  markerSuffix?: string;
  element: string;
  namespace?: string;
  attributes: Record<string, string>;
  record: { element: string; attributes: Record<string, string>; results: { applied: string; rejected: string } };
  /** Element holding the reason a file was refused as a whole. */
  error: string;
  /** How `finishedAt` is written: Beijing `yyyyMMddHHmmss`, or ISO 8601 with +08:00. */
  timeFormat: 'yyyyMMddHHmmss' | 'iso8601';
}

import type { ReceiptEntry, StoredResults } from '../../../../core/ports/file-ledger';
export type { ReceiptEntry, StoredResults };

export interface ReceiptContent {
  /** The file answered (its id in the store). */
  fileId: string;
  fileName: string;
  batch: Record<string, string>;
  finishedAt: Date;
  applied: number;
  rejected: number;
  /** The file was refused as a whole: no record entries. */
  error: string | null;
  /** The stored results, chunk after chunk in file order. */
  results: AsyncIterable<StoredResults>;
}

/** Record fields a receipt spec reads (`record.SWSXBH` → `SWSXBH`), stored with each result. */
export function recordFields(spec: ReceiptSpec | undefined): string[] {
  if (!spec) return [];
  return Object.values(spec.record.attributes).filter((v) => v.startsWith('record.')).map((v) => v.slice(7));
}

/** The results of a chunk, in the form the store keeps for the receipt. */
export function toStoredResults(fields: string[], records: readonly unknown[], outcomes: readonly RecordOutcome[]): StoredResults {
  return {
    fields,
    entries: outcomes.map((o, i): ReceiptEntry => {
      const r = records[i] as Record<string, unknown> | null;
      const values = fields.map((f) => (r && typeof r[f] === 'string' ? (r[f] as string) : ''));
      return o.result === 'rejected' ? [0, o.reason, ...values] : [1, o.supervisionCode, ...values];
    }),
  };
}

export function receiptName(spec: ReceiptSpec, fileName: string): string {
  const base = fileName.replace(/\.[^.]*$/, '');
  return spec.name.replace(/\{base\}/g, base).replace(/\{name\}/g, fileName);
}

/** Where a file's receipt goes, and the temporary name it is staged under beside it. */
export function receiptPaths(spec: ReceiptSpec, dir: string, fileName: string, fileId: string): { temp: string; final: string } {
  const name = receiptName(spec, fileName);
  // Named after the file being answered: a restart overwrites its own leftover, and two files of
  // the same name (a re-send) never write through the same temporary file.
  return { temp: path.join(dir, `.${name}.${fileId}.tmp`), final: path.join(dir, name) };
}

/**
 * Stages a receipt: written whole under its temporary name and flushed, so that the department
 * never reads half of one. Staged again (after a crash before it was published) it has the same
 * bytes.
 */
export async function stageReceipt(spec: ReceiptSpec, dir: string, content: ReceiptContent): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  const { temp } = receiptPaths(spec, dir, content.fileName, content.fileId);
  const out = await fs.promises.open(temp, 'w');
  try {
    let buffer = '';
    const flush = async (force = false) => {
      if (buffer.length < 64 * 1024 && !force) return;
      await out.write(buffer);
      buffer = '';
    };
    const top = Object.entries(spec.attributes).map(([k, v]) => ` ${k}="${escapeXml(topValue(v, spec, content))}"`).join('');
    buffer += `<?xml version="1.0" encoding="UTF-8"?>\n<${spec.element}${spec.namespace ? ` xmlns="${escapeXml(spec.namespace)}"` : ''}${top}>\n`;
    if (content.error !== null) {
      buffer += `  <${spec.error}>${escapeXml(content.error)}</${spec.error}>\n`;
    } else {
      for await (const chunk of content.results) {
        for (const entry of chunk.entries) {
          buffer += `  <${spec.record.element}${recordAttributes(spec, chunk.fields, entry)}/>\n`;
          await flush();
        }
      }
    }
    buffer += `</${spec.element}>\n`;
    await flush(true);
    await out.sync();
  } finally {
    await out.close();
  }
}

/**
 * Publishes a staged receipt: renamed to its final name, then its marker. Run again after a crash
 * at any point it publishes nothing twice: a receipt already renamed is left as it is (only a
 * missing marker is added), and one the department has already taken away (it takes a receipt
 * only once its marker is there) is not written again. Returns whether the receipt is still there.
 */
export async function publishReceipt(spec: ReceiptSpec, dir: string, fileName: string, fileId: string): Promise<'published' | 'taken'> {
  const { temp, final } = receiptPaths(spec, dir, fileName, fileId);
  if (await renameIfPresent(temp, final)) await fsyncDir(dir);
  else if (!exists(final)) return 'taken';
  if (spec.markerSuffix && !exists(final + spec.markerSuffix)) await writeDurably(final + spec.markerSuffix, '');
  return 'published';
}

function topValue(source: string, spec: ReceiptSpec, c: ReceiptContent): string {
  if (source.startsWith('batch.')) return c.batch[source.slice(6)] ?? '';
  switch (source) {
    case 'finishedAt': return formatTime(c.finishedAt, spec.timeFormat);
    case 'applied': return String(c.error === null ? c.applied : 0);
    case 'rejected': return String(c.error === null ? c.rejected : 0);
    case 'records': return String(c.error === null ? c.applied + c.rejected : 0);
    case 'fileName': return c.fileName;
    default: return '';
  }
}

// Attributes of a record line; an empty value is left out (no JGM on a rejected record, no YY on an applied one).
function recordAttributes(spec: ReceiptSpec, fields: string[], [ok, codeOrReason, ...values]: ReceiptEntry): string {
  let out = '';
  for (const [name, source] of Object.entries(spec.record.attributes)) {
    let v = '';
    if (source.startsWith('record.')) {
      const i = fields.indexOf(source.slice(7));
      v = i === -1 ? '' : values[i] ?? '';
    } else if (source === 'result') v = ok ? spec.record.results.applied : spec.record.results.rejected;
    else if (source === 'supervisionCode') v = ok ? codeOrReason : '';
    else if (source === 'reason') v = ok ? '' : codeOrReason;
    if (v !== '') out += ` ${name}="${escapeXml(v)}"`;
  }
  return out;
}

function formatTime(at: Date, format: ReceiptSpec['timeFormat']): string {
  const p = beijingParts(at);
  if (format === 'iso8601') return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}+08:00`;
  return `${pad(p.year, 4)}${pad(p.month)}${pad(p.day)}${pad(p.hour)}${pad(p.minute)}${pad(p.second)}`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    // Characters XML 1.0 cannot carry at all are dropped rather than making the receipt unreadable.
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}
