// `make bench`: a month-end tax-bureau file (200 MB of GB18030, the simulator's records) dropped
// into a running embedded hub (`hub start` in its own process, as `make run` starts it). Reports
// records per second from marker to receipt, and the hub process's peak resident memory above
// what it used once it had answered a small file; then, on the embedded store, the store's own
// ceiling for the rows the hub stored (store-ceiling.ts). Not a mocha test: it takes minutes and a
// quiet machine.
//
// BENCH_MB (default 200) or BENCH_RECORDS size the file; BENCH_STORE=postgres://… runs the hub on
// a PostgreSQL store instead of the embedded one; BENCH_DIR keeps the generated file between runs;
// HUB_NODE_OPTIONS are the hub's Node options and HUB_NODE_FLAGS the flags before its script; by
// default those `make run` uses (the heap cap, single-threaded garbage collection).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { writeLargeBatchFile } from '../../infra/simulators/tax-bureau';
import { DEMO_CONFIG } from '../../core/kernel/paths';
import { spawnHub, nodeSettings, HubProcess, rssBytes, cpuSeconds, threadCpuSeconds } from '../support/hub';
import { measureStoreCeiling } from './store-ceiling';

const GOALS = { recordsPerSecond: 20_000, rssIncreaseMb: 200 };
// The simulator's records average ~325 bytes in GB18030.
const BYTES_PER_RECORD = 325;

const mb = (bytes: number) => bytes / 1048576;


async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Time spent in chunk transactions so far (hub_stage_duration_seconds{stage="apply"}), and their number. */
async function applyStage(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (what: 'sum' | 'count') => Number(new RegExp(`^hub_stage_duration_seconds_${what}\\{stage="apply"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('sum'), count: value('count') };
}

async function main(): Promise<number> {
  const targetMb = Number(process.env.BENCH_MB ?? 200);
  const records = Number(process.env.BENCH_RECORDS ?? Math.round((targetMb * 1048576) / BYTES_PER_RECORD));
  const benchDir = process.env.BENCH_DIR ?? path.join(os.tmpdir(), 'hub-bench');
  fs.mkdirSync(benchDir, { recursive: true });

  const source = path.join(benchDir, `month-end-${records}.xml`);
  if (!fs.existsSync(source)) {
    process.stdout.write(`generating ${records} records of GB18030 into ${source} …\n`);
    const started = Date.now();
    await writeLargeBatchFile(`${source}.part`, { records, encoding: 'GB18030', seed: 'bench' });
    fs.renameSync(`${source}.part`, source);
    process.stdout.write(`  generated in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const bytes = fs.statSync(source).size;

  const dataDir = fs.mkdtempSync(path.join(benchDir, 'hub-'));
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  // The tax bureau alone: the other departments' pollers and webhooks would only add noise.
  config.adapters = config.adapters
    .filter((a: { id: string }) => a.id === 'tax-bureau')
    .map((a: { dir?: string; id: string }) => ({ ...a, dir: path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id), overrides: { transport: { options: { pollIntervalMs: 100, ...(process.env.BENCH_CHUNK ? { chunkRecords: Number(process.env.BENCH_CHUNK) } : {}) } } } }));
  fs.writeFileSync(path.join(dataDir, 'hub.yaml'), YAML.stringify(config));
  const env: Record<string, string> = { HUB_DATA_DIR: dataDir, HUB_CONFIG: path.join(dataDir, 'hub.yaml'), HUB_LOG_LEVEL: 'info' };
  if (process.env.BENCH_STORE) env.HUB_STORE = process.env.BENCH_STORE;
  // The Node options and flags `make run` starts the hub with (its heap cap, its garbage collection
  // on the threads that allocate, its allocator's settings), unless HUB_NODE_OPTIONS, HUB_NODE_FLAGS or
  // HUB_GLIBC_TUNABLES say otherwise.
  const { env: nodeEnv, flags: nodeFlags } = nodeSettings();
  Object.assign(env, nodeEnv);

  let hub: HubProcess | null = null;
  try {
    hub = await spawnHub(env, [], nodeFlags);
    const pid = hub.proc.pid!;
    const inbox = path.join(dataDir, 'drop', 'tax-bureau', 'inbox');
    const receipts = path.join(dataDir, 'drop', 'tax-bureau', 'receipts');
    // A small file first, so that the baseline is a hub that has already answered a file (workers
    // started, code compiled, start-up memory released), not one that has just started.
    const warmUp = path.join(benchDir, 'warm-up-2000.xml');
    if (!fs.existsSync(warmUp)) await writeLargeBatchFile(warmUp, { records: 2000, encoding: 'GB18030', seed: 'bench-warm-up' });
    const warmName = 'SWSX_11301000000_20261130235959_0000.xml';
    fs.copyFileSync(warmUp, path.join(inbox, warmName));
    fs.writeFileSync(path.join(inbox, `${warmName}.ok`), '');
    while (!fs.existsSync(path.join(receipts, warmName.replace(/\.xml$/, '.receipt.xml.ok')))) await sleep(50);
    await sleep(3000);
    const baseline = rssBytes(pid);
    const before = await applyStage(hub.url);
    const name = 'SWSX_11301000000_20261130235959_0001.xml';
    // Same file system: the file appears whole; the marker says it is complete.
    fs.copyFileSync(source, path.join(inbox, `.${name}.copy`));
    fs.renameSync(path.join(inbox, `.${name}.copy`), path.join(inbox, name));

    const receipt = path.join(receipts, name.replace(/\.xml$/, '.receipt.xml'));
    let peak = baseline;
    let healthWorst = 0;
    const started = Date.now();
    const cpuBefore = cpuSeconds(pid);
    const threadsBefore = threadCpuSeconds(pid);
    fs.writeFileSync(path.join(inbox, `${name}.ok`), '');
    const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(pid)); }, 20);
    // The hub keeps answering while it works: the slowest /health/live answer is reported too.
    const prober = setInterval(() => {
      const t = Date.now();
      fetch(`${hub!.url}/health/live`).then(() => { healthWorst = Math.max(healthWorst, Date.now() - t); }, () => undefined);
    }, 500);
    while (!fs.existsSync(`${receipt}.ok`)) {
      if (hub.proc.exitCode !== null) throw new Error(`the hub exited:\n${hub.output().slice(-4000)}`);
      await sleep(50);
    }
    const seconds = (Date.now() - started) / 1000;
    const cpuAfter = cpuSeconds(pid);
    const threadsAfter = threadCpuSeconds(pid);
    // Beside the elapsed time: whether a slower run did more work or had less of a shared machine.
    const cpu = { user: cpuAfter.user - cpuBefore.user, system: cpuAfter.system - cpuBefore.system };
    // By thread: the main thread (the store's, PGlite included), the threads that were there before
    // the file and still are (V8's collector and compiler helpers, libuv's pool), and the rest,
    // threads that started and ended with the file (its checking and mapping workers).
    const spent = (tid: number) => (threadsAfter.get(tid) ?? 0) - (threadsBefore.get(tid) ?? 0);
    const mainThread = spent(pid);
    let lasting = 0;
    for (const tid of threadsAfter.keys()) if (tid !== pid && threadsBefore.has(tid)) lasting += spent(tid);
    const fileWorkers = cpu.user + cpu.system - mainThread - lasting;
    clearInterval(sampler);
    clearInterval(prober);

    const head = fs.readFileSync(receipt, 'utf8').slice(0, 400);
    const cgs = Number(/CGS="(\d+)"/.exec(head)?.[1]);
    const sbs = Number(/SBS="(\d+)"/.exec(head)?.[1]);
    const log = hub.output();
    const checked = /"msg":"file checked; applying"/.test(log);
    // The last file applied is this one (the warm-up file was the first).
    const applied = [...log.matchAll(/"seconds":([\d.]+),"msg":"file applied"/g)].pop();
    // Time inside the chunks' transactions (store work and the JavaScript around it) against the
    // whole applying pass: what is left is waiting for mapped chunks and the work between them.
    const after = await applyStage(hub.url);
    const inTransactions = { seconds: after.sum - before.sum, count: after.count - before.count };
    const rate = records / seconds;
    const rssIncrease = mb(peak - baseline);
    // The supervisor recomputes the file's cases from the bus after the receipt has gone: until
    // the outbox is empty, some lights and statistics do not count the file yet.
    const outboxDepth = async () => Number(/^hub_queue_depth\{queue="outbox"\} (\d+)/m.exec(await (await fetch(`${hub!.url}/metrics`)).text())?.[1] ?? NaN);
    while ((await outboxDepth()) !== 0) await sleep(250);
    const supervised = (Date.now() - started) / 1000;
    const lines = [
      '',
      `tax-bureau file drop, ${process.env.BENCH_STORE ? 'PostgreSQL' : 'embedded (PGlite)'} store, ${os.cpus().length} cores, hub NODE_OPTIONS="${nodeEnv.NODE_OPTIONS}", GLIBC_TUNABLES="${nodeEnv.GLIBC_TUNABLES}", node flags "${nodeFlags.join(' ')}"`,
      `  file            ${mb(bytes).toFixed(1)} MB GB18030, ${records} records (receipt: CGS=${cgs} SBS=${sbs})`,
      `  marker→receipt  ${seconds.toFixed(1)} s${applied ? ` (applying pass ${Number(applied[1]).toFixed(1)} s, checking pass and receipt the rest)` : ''}`,
      `  transactions    ${inTransactions.seconds.toFixed(1)} s in ${inTransactions.count} chunk transactions`,
      `  throughput      ${Math.round(rate)} records/s   (goal ≥ ${GOALS.recordsPerSecond}: ${rate >= GOALS.recordsPerSecond ? 'met' : 'NOT met'})`,
      `  hub CPU         ${cpu.user.toFixed(1)} s user + ${cpu.system.toFixed(1)} s system, ${(((cpu.user + cpu.system) / records) * 1e6).toFixed(0)} µs per record over all threads`,
      `  CPU by thread   main (store) ${mainThread.toFixed(1)} s, file workers ${fileWorkers.toFixed(1)} s, V8 helpers and libuv ${lasting.toFixed(1)} s`,
      `  peak RSS        +${rssIncrease.toFixed(0)} MB over ${mb(baseline).toFixed(0)} MB before the file   (goal < ${GOALS.rssIncreaseMb} MB: ${rssIncrease < GOALS.rssIncreaseMb ? 'met' : 'NOT met'})`,
      `  /health/live    slowest answer ${healthWorst} ms while the file was processed`,
      `  supervised      every event of the file on the supervisor's lights and statistics ${supervised.toFixed(1)} s after the marker (${(supervised - seconds).toFixed(1)} s after the receipt)`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (!checked || cgs + sbs !== records) {
      process.stderr.write(`the receipt does not account for every record:\n${head}\n`);
      return 1;
    }
    await hub.stop('SIGTERM');
    hub = null;
    if (!process.env.BENCH_STORE) reportStoreCeiling(await measureStoreCeiling(path.join(dataDir, 'store'), chunkRecords(config)), seconds / records);
    return 0;
  } finally {
    await hub?.stop('SIGTERM');
    if (!process.env.BENCH_KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Records per transaction of the bench's tax-bureau adapter (BENCH_CHUNK, else its definition's). */
function chunkRecords(config: { adapters: { id: string; dir: string }[] }): number {
  if (process.env.BENCH_CHUNK) return Number(process.env.BENCH_CHUNK);
  const dir = config.adapters.find((a) => a.id === 'tax-bureau')!.dir;
  return YAML.parse(fs.readFileSync(path.join(dir, 'adapter.yaml'), 'utf8')).transport.options.chunkRecords ?? 2000;
}

/**
 * The embedded store's ceiling for what the file stored, beside what the hub took per record: the
 * goal cannot be met above it whatever the hub's own code does.
 */
function reportStoreCeiling(f: Awaited<ReturnType<typeof measureStoreCeiling>>, hubSecondsPerRecord: number): void {
  const perRecord = f.seconds / f.records;
  const us = (s: number) => ((s / f.records) * 1e6).toFixed(1);
  process.stdout.write([
    '',
    `  store ceiling   the rows this run stored (${f.records} events, ${f.eventRowBytes} B each as COPY text; case rows ${f.caseRowBytes} B), written again`,
    `                  into a fresh embedded store with no hub code, ${f.chunks} transactions: ${f.seconds.toFixed(1)} s, ${(perRecord * 1e6).toFixed(1)} µs per record,`,
    `                  at most ${Math.round(1 / perRecord)} records/s before any parsing or mapping (the hub took ${(hubSecondsPerRecord * 1e6).toFixed(1)} µs per record)`,
    `                  by step, µs per record: id look-up ${us(f.steps.lookup)}, new cases and references ${us(f.steps.newCases)}, events ${us(f.steps.events)},`,
    `                  case rows updated ${us(f.steps.caseUpdates)}, receipt lines ${us(f.steps.receiptLines)}`,
    '',
  ].join('\n'));
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
