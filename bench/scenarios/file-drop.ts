// `make bench`, file: the tax bureau's month-end file (GB18030, the simulator's records; 200 MB at
// full size) dropped with its marker into a freshly started hub (`hub start` as `make run` starts
// it, the tax bureau alone), on the embedded store and on PostgreSQL. Figures: records per second
// from the marker to the receipt's marker, the hub's CPU per record (all its threads), and its
// peak resident memory above what it used once it had answered a small file. Each run is a hub of
// its own on an empty store: the same file dropped twice would be duplicates the second time.
//
// Baselines, in the same run:
// - the store's ceiling for the rows the hub stored: after each run the rows are written again
//   into a fresh store of the same schema with no hub code, in the hub's chunks: on the embedded
//   store by test/bench/store-ceiling.ts, on PostgreSQL by COPY into a fresh database
//   (measurePgCeiling below);
// - the file read, decoded by iconv-lite and parsed by saxes to nothing, in a process of its own
//   (bench/baselines/file-parse.ts): its CPU and memory per record beside the hub's.
//
// BENCH_MB (default 200) or BENCH_RECORDS size the file (tiny: 2,000 records); BENCH_CHUNK the
// records per transaction (the adapter's chunkRecords by default). Generated files stay in the
// bench's work folder (BENCH_DIR) for the next run.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import YAML from 'yaml';
import { DEMO_CONFIG } from '../../core/kernel/paths';
import { openDriver } from '../../services/store/store';
import { writeLargeBatchFile } from '../../infra/simulators/tax-bureau';
import { spawnHub, nodeSettings, rssBytes, cpuSeconds, HubProcess } from '../../test/support/hub';
import { measureStoreCeiling, readCeilingRows, writeCeiling, CeilingRows } from '../../test/bench/store-ceiling';
import { BenchContext, Row, Scenario, repeat, row, benchDatabase, hubDataDir } from '../harness';
import type { ParseFigures } from '../baselines/file-parse';

const ID = 'file';
const GOALS = { pgRecordsPerSecond: 20_000, ofCeiling: 0.8, rssIncreaseMb: 200, cpuPerRecordUs: 100 };
// The simulator's records average ~325 bytes in GB18030.
const BYTES_PER_RECORD = 325;
const TINY_RECORDS = 2000;

export const fileScenario: Scenario = {
  id: ID,
  title: 'tax-bureau GB18030 file drop, marker to receipt, on the embedded store and on PostgreSQL',
  run,
};

type Store = 'embedded' | 'postgres';

/** One file dropped into a fresh hub, and its store's ceiling for the same rows. */
interface Drop {
  seconds: number;
  rate: number;
  cpuUs: number;
  rssIncreaseMb: number;
  rssBeforeMb: number;
  /** The same rows written again into a fresh store of the same kind, with no hub code: records/s. */
  ceilingRate: number;
  ceiling: { records: number; chunks: number; seconds: number; steps: Record<string, number> };
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const records = fileRecords(ctx);
  const source = await generated(ctx, `month-end-${records}.xml`, records, 'bench');
  const warmUp = await generated(ctx, 'warm-up-2000.xml', 2000, 'bench-warm-up');
  const bytes = fs.statSync(source).size;
  ctx.log(`${records} records, ${(bytes / 1048576).toFixed(1)} MB of GB18030`);

  const parse = await repeat(ctx, 'saxes parse', () => parseInOwnProcess(source));
  for (const p of parse) if (p.records !== records) throw new Error(`saxes parse of ${source}: ${p.records} records, not ${records}`);
  const onPg = await repeat(ctx, 'hub, PostgreSQL', () => dropOnce(ctx, 'postgres', source, warmUp, records));
  const embedded = await repeat(ctx, 'hub, embedded store', () => dropOnce(ctx, 'embedded', source, warmUp, records));

  const parseName = 'saxes parse of the iconv-lite-decoded file';
  const parseRate = parse.map((p) => p.records / p.seconds);
  const parseCpuUs = parse.map((p) => (p.cpuSeconds / p.records) * 1e6);
  const parseRss = parse.map((p) => p.rssIncreaseMb);
  const common = { file: { records, mb: bytes / 1048576 }, parseRecordsPerSecond: parseRate };
  const mbGoal = `≤ ${GOALS.rssIncreaseMb} MB`;
  const details = (drops: Drop[]) => ({ ...common, seconds: drops.map((d) => d.seconds), rssBeforeMb: drops.map((d) => d.rssBeforeMb), ceilings: drops.map((d) => d.ceiling) });
  return [
    row(ctx, {
      scenario: ID, figure: 'PostgreSQL: records/s, marker to receipt', unit: 'records/s',
      runs: onPg.map((d) => d.rate), baseline: { name: 'COPY of the same rows into a fresh database', runs: onPg.map((d) => d.ceilingRate) },
      goal: `≥ ${GOALS.pgRecordsPerSecond.toLocaleString('en-US')}/s, ≥ ${GOALS.ofCeiling * 100} % of the COPY ceiling`,
      judge: (v, ratio) => v >= GOALS.pgRecordsPerSecond && (ratio ?? 0) >= GOALS.ofCeiling,
      details: details(onPg),
    }),
    row(ctx, {
      scenario: ID, figure: 'PostgreSQL: records/s, beside parsing alone', unit: 'records/s',
      runs: onPg.map((d) => d.rate), baseline: { name: parseName, runs: parseRate },
    }),
    row(ctx, {
      scenario: ID, figure: 'PostgreSQL: peak RSS increase', unit: 'MB', higherIsBetter: false,
      runs: onPg.map((d) => d.rssIncreaseMb), baseline: { name: parseName, runs: parseRss },
      goal: mbGoal, judge: (v) => v <= GOALS.rssIncreaseMb,
    }),
    row(ctx, {
      scenario: ID, figure: 'PostgreSQL: hub CPU per record', unit: 'µs', higherIsBetter: false,
      runs: onPg.map((d) => d.cpuUs), baseline: { name: parseName, runs: parseCpuUs },
    }),
    row(ctx, {
      scenario: ID, figure: 'embedded: records/s, marker to receipt', unit: 'records/s',
      runs: embedded.map((d) => d.rate), baseline: { name: 'embedded store ceiling for the same rows', runs: embedded.map((d) => d.ceilingRate) },
      goal: `≥ ${GOALS.ofCeiling * 100} % of the embedded store ceiling`,
      judge: (_v, ratio) => (ratio ?? 0) >= GOALS.ofCeiling,
      details: details(embedded),
    }),
    row(ctx, {
      scenario: ID, figure: 'embedded: records/s, beside parsing alone', unit: 'records/s',
      runs: embedded.map((d) => d.rate), baseline: { name: parseName, runs: parseRate },
    }),
    row(ctx, {
      scenario: ID, figure: 'embedded: hub CPU per record', unit: 'µs', higherIsBetter: false,
      runs: embedded.map((d) => d.cpuUs), baseline: { name: parseName, runs: parseCpuUs },
      goal: `≤ ${GOALS.cpuPerRecordUs} µs`, judge: (v) => v <= GOALS.cpuPerRecordUs,
    }),
    row(ctx, {
      scenario: ID, figure: 'embedded: peak RSS increase', unit: 'MB', higherIsBetter: false,
      runs: embedded.map((d) => d.rssIncreaseMb), baseline: { name: parseName, runs: parseRss },
      goal: mbGoal, judge: (v) => v <= GOALS.rssIncreaseMb,
    }),
  ];
}

/** Records of the bench file: BENCH_RECORDS, else BENCH_MB's worth (200 MB), tiny 2,000. */
function fileRecords(ctx: BenchContext): number {
  const n = process.env.BENCH_RECORDS ? Number(process.env.BENCH_RECORDS)
    : ctx.tiny && !process.env.BENCH_MB ? TINY_RECORDS
    : Math.round((Number(process.env.BENCH_MB ?? 200) * 1048576) / BYTES_PER_RECORD);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`BENCH_RECORDS or BENCH_MB must give a positive number of records, not ${n}`);
  return n;
}

/** A batch file of the simulator's records in the work folder, generated once and kept. */
async function generated(ctx: BenchContext, name: string, records: number, seed: string): Promise<string> {
  const file = path.join(ctx.workDir, name);
  if (!fs.existsSync(file)) {
    ctx.log(`generating ${records} records of GB18030 into ${file}`);
    await writeLargeBatchFile(`${file}.part`, { records, encoding: 'GB18030', seed });
    fs.renameSync(`${file}.part`, file);
  }
  return file;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The demo configuration with the tax bureau alone, its inbox looked at every 100 ms. */
function writeHubConfig(dataDir: string): { file: string; chunkRecords: number } {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  const chunk = process.env.BENCH_CHUNK ? { chunkRecords: Number(process.env.BENCH_CHUNK) } : {};
  config.adapters = config.adapters
    .filter((a: { id: string }) => a.id === 'tax-bureau')
    .map((a: { dir?: string; id: string }) => ({ ...a, dir: path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id), overrides: { transport: { options: { pollIntervalMs: 100, ...chunk } } } }));
  const file = path.join(dataDir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  const dir = config.adapters[0].dir as string;
  const chunkRecords = Number(process.env.BENCH_CHUNK ?? YAML.parse(fs.readFileSync(path.join(dir, 'adapter.yaml'), 'utf8')).transport.options.chunkRecords ?? 2000);
  return { file, chunkRecords };
}

/** Waits for `file` to exist, failing if the hub exits or `timeoutMs` passes. */
async function appears(hub: HubProcess, file: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (hub.proc.exitCode !== null || hub.proc.signalCode !== null) throw new Error(`the hub exited before ${path.basename(file)} appeared:\n${hub.output().slice(-4000)}`);
    if (Date.now() > until) throw new Error(`no ${path.basename(file)} within ${timeoutMs / 1000} s:\n${hub.output().slice(-4000)}`);
    await sleep(20);
  }
}

/** A fresh hub on a fresh store, a small file first, then the bench file, then the store's ceiling. */
async function dropOnce(ctx: BenchContext, store: Store, source: string, warmUp: string, records: number): Promise<Drop> {
  const label = store === 'postgres' ? 'PostgreSQL' : 'embedded';
  const dataDir = hubDataDir(ctx.workDir, `file-${store}-`, store);
  const db = store === 'postgres' ? await benchDatabase(ctx.pgAdminUrl, 'file_hub') : null;
  let hub: HubProcess | null = null;
  try {
    const { file: configFile, chunkRecords } = writeHubConfig(dataDir);
    const node = nodeSettings();
    hub = await spawnHub({ HUB_DATA_DIR: dataDir, HUB_CONFIG: configFile, HUB_STORE: db?.url ?? 'embedded', ...node.env }, [], node.flags);
    const pid = hub.proc.pid!;
    const inbox = path.join(dataDir, 'drop', 'tax-bureau', 'inbox');
    const receipts = path.join(dataDir, 'drop', 'tax-bureau', 'receipts');
    // A small file first, so that the memory before is that of a hub that has answered a file
    // (workers started, code compiled, start-up memory released), not of one just started.
    const warmName = 'SWSX_11301000000_20261130235959_0000.xml';
    fs.copyFileSync(warmUp, path.join(inbox, warmName));
    fs.writeFileSync(path.join(inbox, `${warmName}.ok`), '');
    await appears(hub, path.join(receipts, warmName.replace(/\.xml$/, '.receipt.xml.ok')), 120_000);
    await sleep(ctx.tiny ? 500 : 3000);
    const rssBefore = rssBytes(pid);

    const name = 'SWSX_11301000000_20261130235959_0001.xml';
    // The same file system: the file appears whole; the marker says it is complete.
    fs.copyFileSync(source, path.join(inbox, `.${name}.copy`));
    fs.renameSync(path.join(inbox, `.${name}.copy`), path.join(inbox, name));
    const receipt = path.join(receipts, name.replace(/\.xml$/, '.receipt.xml'));
    let peak = rssBefore;
    const cpu = () => { const c = cpuSeconds(pid); return c.user + c.system; };
    const cpuBefore = cpu();
    const started = Date.now();
    fs.writeFileSync(path.join(inbox, `${name}.ok`), '');
    const sampler = setInterval(() => { try { peak = Math.max(peak, rssBytes(pid)); } catch { /* the process ended: appears() says so */ } }, 20);
    try {
      await appears(hub, `${receipt}.ok`, 3_600_000);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    const cpuSpent = cpu() - cpuBefore;
    const head = fs.readFileSync(receipt, 'utf8').slice(0, 400);
    const cgs = Number(/CGS="(\d+)"/.exec(head)?.[1]);
    const sbs = Number(/SBS="(\d+)"/.exec(head)?.[1]);
    if (cgs + sbs !== records) throw new Error(`${label}: the receipt does not account for the ${records} records:\n${head}`);
    await hub.stop('SIGTERM');
    hub = null;

    const ceiling = db ? await measurePgCeiling(db.url, ctx.pgAdminUrl, chunkRecords) : await measureStoreCeiling(path.join(dataDir, 'store'), chunkRecords);
    const d: Drop = {
      seconds, rate: records / seconds, cpuUs: (cpuSpent / records) * 1e6,
      rssIncreaseMb: (peak - rssBefore) / 1048576, rssBeforeMb: rssBefore / 1048576,
      ceilingRate: ceiling.records / ceiling.seconds,
      ceiling: { records: ceiling.records, chunks: ceiling.chunks, seconds: ceiling.seconds, steps: ceiling.steps },
    };
    ctx.log(`${label}: ${records} records in ${seconds.toFixed(1)} s, ${d.rate.toFixed(0)} records/s (CGS ${cgs}, SBS ${sbs}), ` +
      `CPU ${d.cpuUs.toFixed(0)} µs/record, RSS +${d.rssIncreaseMb.toFixed(0)} MB over ${d.rssBeforeMb.toFixed(0)} MB; ` +
      `store ceiling ${d.ceilingRate.toFixed(0)} records/s (${ceiling.records} rows in ${ceiling.seconds.toFixed(2)} s)`);
    return d;
  } finally {
    await hub?.stop('SIGTERM');
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** bench/baselines/file-parse.ts on the file, in a process of its own. */
function parseInOwnProcess(file: string): Promise<ParseFigures> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(__dirname, '..', 'baselines', 'file-parse.js'), file, 'GB18030'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => { out += c; });
    proc.stderr.on('data', (c) => { err += c; });
    proc.once('error', reject);
    proc.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the file parse baseline exited with ${code} on ${file}: ${err}`));
      try {
        resolve(JSON.parse(out) as ParseFigures);
      } catch {
        reject(new Error(`the file parse baseline answered no figures on ${file}: ${out} ${err}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The PostgreSQL store's ceiling: what test/bench/store-ceiling.ts does for the embedded store.

/**
 * One COPY statement on a pg client, to or from memory (node-postgres has no COPY of its own): the
 * rows out as COPY text for `COPY … TO STDOUT`, `data` in for `COPY … FROM STDIN`.
 */
class Copy {
  private chunks: Buffer[] = [];
  private error: Error | null = null;
  private settle!: { resolve(b: Buffer): void; reject(e: Error): void };
  readonly done = new Promise<Buffer>((resolve, reject) => { this.settle = { resolve, reject }; });

  constructor(private readonly text: string, private readonly data?: Buffer) {}

  submit(connection: { query(text: string): void }): void { connection.query(this.text); }
  handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }): void {
    if (this.data?.length) connection.sendCopyFromChunk(this.data);
    connection.endCopyFrom();
  }
  // A copy: the chunk is a view of the connection's buffer, which the next message reuses.
  handleCopyData(msg: { chunk: Buffer }): void { this.chunks.push(Buffer.from(msg.chunk)); }
  handleError(err: Error): void { this.error ??= err; }
  handleReadyForQuery(): void {
    if (this.error) this.settle.reject(new Error(`${this.text.slice(0, 120)}: ${this.error.message}`));
    else this.settle.resolve(Buffer.concat(this.chunks));
  }
  handleCommandComplete(): void { /* the rows went by handleCopyData */ }
  handleRowDescription(): void { /* none for COPY */ }
  handleDataRow(): void { /* none for COPY */ }
  handleEmptyQuery(): void { /* never sent */ }
  handlePortalSuspended(): void { /* never sent */ }
}

function copy(client: pg.Client, text: string, data?: Buffer): Promise<Buffer> {
  const c = new Copy(text, data);
  client.query(c as unknown as pg.QueryConfig);
  return c.done;
}

/**
 * The rows a stopped hub stored in its PostgreSQL database (`sourceUrl`), written again into a
 * fresh database of the same schema with no hub code, as test/bench/store-ceiling.ts writes them
 * into the embedded store (writeCeiling), each payload sent by COPY … FROM STDIN.
 */
export async function measurePgCeiling(sourceUrl: string, adminUrl: string, chunkRecords: number): Promise<{ records: number; chunks: number; seconds: number; steps: Record<string, number> }> {
  const source = new pg.Client({ connectionString: sourceUrl });
  await source.connect();
  let rows: CeilingRows;
  try {
    rows = await readCeilingRows(async (sql) => (await copy(source, `COPY (${sql}) TO STDOUT`)).toString('utf8').split('\n').filter(Boolean));
  } finally {
    await source.end();
  }

  const target = await benchDatabase(adminUrl, 'file_ceiling');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-pg-ceiling-'));
  try {
    // The hub's schema, by its own migrations.
    await (await openDriver(target.url, scratch)).close();
    const db = new pg.Client({ connectionString: target.url });
    await db.connect();
    try {
      const copyIn = (table: string, columns: string | null, data: Buffer) => copy(db, `COPY ${table}${columns ? ` (${columns})` : ''} FROM STDIN`, data);
      const tx = { query: (sql: string, params?: unknown[]) => db.query(sql, params), copy: copyIn };
      return await writeCeiling<Buffer>(rows, {
        encode: (lines) => Buffer.from(lines.join('\n') + '\n'),
        query: tx.query,
        async transaction(fn) {
          await db.query('BEGIN');
          try {
            await fn(tx);
            await db.query('COMMIT');
          } catch (err) {
            await db.query('ROLLBACK');
            throw err;
          }
        },
      }, chunkRecords);
    } finally {
      await db.end();
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
    await target.drop();
  }
}
