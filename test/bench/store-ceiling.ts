// The embedded store's own ceiling for a bench file: the rows the hub left in its store, written
// again into a fresh store of the same schema with no hub code in between. Per chunk of records,
// the least SQL that storing them needs: one look-up of the chunk's event ids (idempotence), the
// references and rows of the cases first seen, the events, the rows of the cases seen before, and
// the chunk's receipt lines. Every payload is encoded before the clock starts, so what is timed is
// PGlite alone. What the hub adds above this is its JavaScript, its garbage collection and the
// file's checking pass.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { openDriver } from '../../services/store/store';
import { openPglite } from '../../services/store/pglite-driver';

export interface StoreCeiling {
  records: number;
  chunks: number;
  seconds: number;
  /** Seconds by step, over all chunks. */
  steps: CeilingSteps;
  /** Average bytes of an event row and of a case row as COPY text. */
  eventRowBytes: number;
  caseRowBytes: number;
}

export const EVENT_COLUMNS = 'id, seq, supervision_code, adapter, raw_message_id, status, status_time, received_at, body';
export const CASE_COLUMNS = 'supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, status, status_time, applicant, light, deadline, paused, violations, event_count, timeline, first_seen';
export const REF_COLUMNS = 'system, local_id, supervision_code';

/** The rows of a stopped hub's store that a ceiling writes again, as COPY text lines. */
export interface CeilingRows {
  events: string[];
  cases: string[];
  refs: string[];
  files: string[];
  results: string[];
}

/** Reads them from a store, given how it answers a query as COPY text lines. */
export async function readCeilingRows(rows: (sql: string) => Promise<string[]>): Promise<CeilingRows> {
  return {
    events: await rows(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY seq`),
    cases: await rows(`SELECT ${CASE_COLUMNS} FROM cases`),
    refs: await rows(`SELECT ${REF_COLUMNS} FROM case_refs`),
    files: await rows('SELECT * FROM file_drops ORDER BY claimed_at'),
    results: await rows('SELECT r.file_id, r.first, r.results FROM file_drop_results r JOIN file_drops f ON f.id = r.file_id ORDER BY f.claimed_at, r.first'),
  };
}

/** A fresh store of the hub's schema that a ceiling writes into; `B` is a COPY payload encoded ahead. */
export interface CeilingTarget<B> {
  encode(lines: string[]): B;
  query(sql: string, params?: unknown[]): Promise<unknown>;
  /** Runs fn in one transaction; `copy` loads a payload into a table's columns (all of them when null). */
  transaction(fn: (tx: { query(sql: string, params?: unknown[]): Promise<unknown>; copy(table: string, columns: string | null, data: B): Promise<unknown> }) => Promise<void>): Promise<void>;
}

export type CeilingSteps = Record<'lookup' | 'newCases' | 'events' | 'caseUpdates' | 'receiptLines', number>;

/**
 * Writes the rows into the target, `chunkRecords` events per transaction in the order the hub
 * stored them, every payload encoded before the clock starts. A case row is written as it stands
 * at the end (its whole timeline): a little more than the hub wrote for it mid-file, so the
 * ceiling reported is if anything a little low.
 */
export async function writeCeiling<B>(rows: CeilingRows, target: CeilingTarget<B>, chunkRecords: number): Promise<{ records: number; chunks: number; seconds: number; steps: CeilingSteps }> {
  const { events, cases, refs, results } = rows;
  const field = (line: string, i: number) => line.split('\t', i + 1)[i];
  const caseRow = new Map(cases.map((l) => [field(l, 0), l]));
  const refRows = new Map<string, string[]>();
  for (const l of refs) {
    const code = field(l, 2);
    const list = refRows.get(code);
    if (list) list.push(l);
    else refRows.set(code, [l]);
  }
  // Each chunk's statements, prepared now.
  const seen = new Set<string>();
  const chunks: { ids: string; refs: B | null; events: B; added: B | null; changed: B | null; results: string[] | null }[] = [];
  const encoded = (lines: string[]) => (lines.length ? target.encode(lines) : null);
  for (let at = 0, k = 0; at < events.length; at += chunkRecords, k++) {
    const chunk = events.slice(at, at + chunkRecords);
    const codes = [...new Set(chunk.map((l) => field(l, 2)))];
    const added = codes.filter((c) => !seen.has(c));
    const changed = codes.filter((c) => seen.has(c));
    for (const c of added) seen.add(c);
    chunks.push({
      ids: chunk.map((l) => field(l, 0)).join(','),
      refs: encoded(added.flatMap((c) => refRows.get(c) ?? [])),
      events: target.encode(chunk),
      added: encoded(added.map((c) => caseRow.get(c)!)),
      changed: encoded(changed.map((c) => caseRow.get(c)!)),
      results: results[k] ? results[k].split('\t') : null,
    });
  }

  const files = encoded(rows.files);
  if (files) await target.transaction((tx) => tx.copy('file_drops', null, files).then(() => undefined));
  await target.query('CREATE TEMP TABLE changed_cases AS SELECT * FROM cases WITH NO DATA');
  const steps: CeilingSteps = { lookup: 0, newCases: 0, events: 0, caseUpdates: 0, receiptLines: 0 };
  const timed = async (step: keyof CeilingSteps, fn: () => Promise<unknown>) => {
    const t = process.hrtime.bigint();
    await fn();
    steps[step] += Number(process.hrtime.bigint() - t) / 1e9;
  };
  const started = process.hrtime.bigint();
  for (const c of chunks) {
    await target.transaction(async (tx) => {
      await timed('lookup', () => tx.query("SELECT count(*) FROM events WHERE id = ANY(string_to_array($1, ','))", [c.ids]));
      await timed('newCases', async () => {
        if (c.refs) await tx.copy('case_refs', REF_COLUMNS, c.refs);
        if (c.added) await tx.copy('cases', CASE_COLUMNS, c.added);
      });
      await timed('events', () => tx.copy('events', EVENT_COLUMNS, c.events));
      if (c.changed) {
        await timed('caseUpdates', async () => {
          await tx.copy('changed_cases', CASE_COLUMNS, c.changed!);
          await tx.query(`UPDATE cases SET ${CASE_COLUMNS.split(', ').slice(1, -1).map((x) => `${x} = u.${x}`).join(', ')}, updated_at = now()
            FROM changed_cases u WHERE cases.supervision_code = u.supervision_code`);
          await tx.query('TRUNCATE changed_cases');
        });
      }
      if (c.results) await timed('receiptLines', () => tx.query('INSERT INTO file_drop_results (file_id, first, results) VALUES ($1, $2, $3)', c.results!));
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { records: events.length, chunks: chunks.length, seconds, steps };
}

/** Writes the rows of the stopped hub's embedded store (`sourceDir`, its `store` folder) again into a fresh one. */
export async function measureStoreCeiling(sourceDir: string, chunkRecords: number): Promise<StoreCeiling> {
  const source = await openPglite(sourceDir);
  let rows: CeilingRows;
  try {
    rows = await readCeilingRows(async (sql) => {
      const r = await source.query(`COPY (${sql}) TO '/dev/blob'`);
      return Buffer.from(await r.blob!.arrayBuffer()).toString('utf8').split('\n').filter(Boolean);
    });
  } finally {
    await source.close();
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-store-ceiling-'));
  try {
    // The hub's schema, by its own migrations.
    await (await openDriver('embedded', dir)).close();
    const db: PGlite = await openPglite(path.join(dir, 'store'));
    try {
      const copy = (tx: PGlite | Transaction, table: string, columns: string | null, blob: Blob) => tx.query(`COPY ${table}${columns ? ` (${columns})` : ''} FROM '/dev/blob'`, [], { blob });
      const written = await writeCeiling<Blob>(rows, {
        encode: (lines) => new Blob([lines.join('\n') + '\n']),
        query: (sql, params) => db.query(sql, params),
        transaction: (fn) => db.transaction((tx) => fn({ query: (sql, params) => tx.query(sql, params), copy: (table, columns, blob) => copy(tx, table, columns, blob) })),
      }, chunkRecords);
      const bytes = (lines: string[]) => Math.round(lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) / Math.max(1, lines.length));
      return { ...written, eventRowBytes: bytes(rows.events), caseRowBytes: bytes(rows.cases) };
    } finally {
      await db.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
