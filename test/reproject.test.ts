import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { spawn, ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { ADAPTERS_DIR, ROOT } from '../core/kernel/paths';
import { postBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { validateCaseView } from '../contracts/validate';
import { issueSupervisionCode } from '../core/identifiers/supervision-code';
import type { SqlDriver } from '../services/store/sql-driver';
import { STORES, startTestHub, TestHub, SUPERVISOR, OPERATOR, getJson, waitFor, settled } from './support/hub';
import type { CaseProjection } from '../services/cases/projection';

const SAMPLE = path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-01.json');
const OPERATOR_TOKEN = 'demo-operator-token';

function event(caseNo: string, status: MarketEvent['status'], statusTime: string): MarketEvent {
  return {
    eventId: randomUUID(), caseNo, itemCode: 'SCJG-DJ-002', status, statusTime,
    applicant: { type: 'ENTERPRISE', name: '石家庄恒泰商贸有限公司', creditCode: '91130100MA0CK3L52K', mobile: '13831100425' },
    officer: null, supervisionCode: null, remark: status === 'ACCEPTED' ? '材料齐全' : null,
  };
}

const minute = (i: number) => `2026-11-25T${String(8 + Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00+08:00`;

interface Cli {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** The real `hub reproject`, as an operator runs it, in its own process (this one hosts the hub it talks to). */
function hubReproject(args: string[]): Cli {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'hub.js'), 'reproject', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { err += c; });
  // 'close', not 'exit': its output is read to the end by then.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

async function runReproject(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = hubReproject(args);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The statements the store is sent while `run` runs, in transactions too. */
async function statementsDuring(driver: SqlDriver, run: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const d = driver as unknown as Record<string, unknown>;
  const names = ['query', 'exec', 'insertRows', 'transaction'] as const;
  const own = new Map(names.map((n) => [n, Object.prototype.hasOwnProperty.call(d, n) ? d[n] : undefined]));
  const orig = { query: driver.query.bind(driver), exec: driver.exec.bind(driver), insertRows: driver.insertRows.bind(driver), transaction: driver.transaction.bind(driver) };
  d.query = (sql: string, params?: unknown[]) => { sent.push(sql); return orig.query(sql, params); };
  d.exec = (sql: string) => { sent.push(sql); return orig.exec(sql); };
  d.insertRows = (table: string, cols: string[], rows: unknown[][]) => { sent.push(`COPY ${table}`); return orig.insertRows(table, cols, rows); };
  d.transaction = (fn: (tx: any) => Promise<unknown>) => orig.transaction((tx) => fn({
    query: (sql: string, params?: unknown[]) => { sent.push(sql); return tx.query(sql, params); },
    insertRows: (table: string, cols: string[], rows: unknown[][]) => { sent.push(`COPY ${table}`); return tx.insertRows(table, cols, rows); },
  }));
  try {
    await run();
  } finally {
    for (const n of names) { if (own.get(n)) d[n] = own.get(n); else delete d[n]; }
  }
  return sent;
}

/**
 * A stand-in for the network between the command and the hub that passes the first `pass`
 * reprojection requests on and holds every later one unanswered: where a run is interrupted is
 * then known exactly, whatever the machine's speed.
 */
async function stallingProxy(target: string, pass: number) {
  let seen = 0;
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (++seen > pass) { held.push(res); return; }
      void fetch(target + req.url, {
        method: req.method, body: Buffer.concat(chunks),
        headers: { authorization: String(req.headers.authorization), 'content-type': String(req.headers['content-type']) },
      }).then(async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      }, (err) => { res.writeHead(502); res.end(String(err)); });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

for (const kind of STORES) {
  describe(`case reads from the stored projection, and hub reproject (${kind} store)`, function () {
    this.timeout(180_000);
    let t: TestHub;
    let db: SqlDriver;
    let codes: string[];
    let sampleCode: string;
    let longCode: string;
    const truth = new Map<string, unknown>();
    const LONG_EVENTS = 120;

    const view = async (code: string) => {
      const v = await getJson(`${t.url}/api/v1/cases/${code}`, SUPERVISOR);
      assert.equal(v.status, 200, JSON.stringify(v.body));
      return v.body;
    };
    const lookup = async (localId: string): Promise<string> => {
      const l = await getJson(`${t.url}/api/v1/cases/lookup?system=market-regulation&localId=${localId}`, SUPERVISOR);
      assert.equal(l.status, 200, JSON.stringify(l.body));
      return l.body.supervisionCode;
    };
    /** Changes a stored case row behind the hub's back, as a changed rule would leave it: status, light, name and every timeline status. */
    const alter = async (code: string) => {
      await db.query(
        `UPDATE cases SET status = 'WITHDRAWN', light = 'RED', department_name = department_name || '（改）', event_count = event_count + 7,
           timeline = (SELECT json_agg(json_build_array(e->0, e->1, 'WITHDRAWN', e->3, e->4)) FROM json_array_elements(timeline) AS e)
         WHERE supervision_code = $1`, [code]);
    };
    const isAltered = async (code: string) => {
      const v = await view(code);
      const altered = v.status === 'WITHDRAWN' && v.light === 'RED';
      if (!altered) assert.deepEqual(v, truth.get(code), `case ${code} as its events give it`);
      return altered;
    };
    /** The stored row equals the projection of the case's events, computed now. */
    const assertRowRebuilt = async (code: string) => {
      const [stored, projected] = await Promise.all([t.hub.context.store.cases.read(code), t.hub.context.store.cases.get(code)]);
      // Light, deadline, paused and violations are the supervisor's: the view below holds them to the truth.
      const own = ({ light, deadline, paused, violations, ...rest }: CaseProjection) => rest;
      assert.deepEqual(own(stored!.projection), own(projected!.projection), `stored row of ${code}`);
      // Each timeline entry as the case view showed it when it was made from the whole events.
      assert.deepEqual(stored!.timeline, projected!.timeline.map(({ event: e }) => ({
        eventId: e.id, status: e.data.status, time: e.data.statusTime, system: e.data.system, sourceStatus: e.data.sourceStatus, remark: e.data.remark,
        provenance: { adapter: e.data.provenance.adapter, rawMessageId: e.data.provenance.rawMessageId, profileVersion: e.data.provenance.profileVersion },
      })));
      assert.deepEqual(await view(code), truth.get(code));
    };
    const progressLines = (stderr: string) => [...stderr.matchAll(/^reprojected (\d+)\/(\d+) cases \(([\d.]+)%\), (\d+) changed, (\d+) cases\/s; resume with --after (\S+)$/gm)]
      .map((m) => ({ done: Number(m[1]), total: Number(m[2]), changed: Number(m[4]), after: m[6] }));

    before(async () => {
      t = await startTestHub(kind);
      db = t.hub.context.store.driver;
      const inbound = `${t.url}/api/v1/inbound/market-regulation`;
      assert.equal((await postBatch(inbound, fs.readFileSync(SAMPLE))).status, 200);
      const run = randomUUID().slice(0, 8);
      const short = Array.from({ length: 23 }, (_, i) => `SJ-RP-${run}-${i}`).flatMap((no, i) => [event(no, 'SUBMITTED', minute(i)), event(no, 'ACCEPTED', minute(i + 30))]);
      const longNo = `SJ-RP-${run}-LONG`;
      // Sent newest first: the timeline is ordered by status time, not by arrival.
      const long = Array.from({ length: LONG_EVENTS }, (_, i) => event(longNo, i === 0 ? 'SUBMITTED' : i === 1 ? 'ACCEPTED' : 'IN_REVIEW', minute(i))).reverse();
      for (const events of [short, long]) {
        const r = await postBatch(inbound, { batchId: `b-${randomUUID()}`, events });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok((r.body as any).results.every((x: any) => x.result === 'accepted'), JSON.stringify(r.body));
      }
      await settled(t.url);
      sampleCode = await lookup('SJ130100202611240031');
      longCode = await lookup(longNo);
      codes = (await db.query<{ supervision_code: string }>('SELECT supervision_code FROM cases ORDER BY supervision_code')).rows.map((r) => r.supervision_code);
      assert.equal(codes.length, 2 + 23 + 1);
      for (const code of codes) {
        const v = await view(code);
        assert.equal(validateCaseView(v), null);
        truth.set(code, v);
      }
    });
    after(async () => { await t?.stop(); });

    it('serves GET /cases/{code} from the stored row, in the same few statements for 2 events as for 120', async () => {
      const long = truth.get(longCode) as any;
      assert.equal(long.timeline.length, LONG_EVENTS);
      assert.deepEqual(long.timeline.slice(0, 3).map((e: any) => [e.status, e.time, e.sourceCode]), [['SUBMITTED', minute(0), 'SUBMITTED'], ['ACCEPTED', minute(1), 'ACCEPTED'], ['UNDER_REVIEW', minute(2), 'IN_REVIEW']]);
      assert.equal(long.timeline[1].remark, '材料齐全');
      assert.equal(long.timeline[1].system, 'market-regulation');
      assert.equal(long.timeline[1].provenance.adapter, 'market-regulation');
      // The stored rows and a projection of the events computed now agree before anything is altered.
      for (const code of codes) await assertRowRebuilt(code);

      await alter(sampleCode);
      await alter(longCode);
      for (const code of [sampleCode, longCode]) {
        const v = await view(code);
        assert.equal(v.status, 'WITHDRAWN');
        assert.equal(v.light, 'RED');
        assert.match(v.department.name, /（改）$/);
        assert.ok(v.timeline.every((e: any) => e.status === 'WITHDRAWN'));
        assert.deepEqual(v.timeline.map((e: any) => [e.eventId, e.time, e.sourceCode, e.remark]), (truth.get(code) as any).timeline.map((e: any) => [e.eventId, e.time, e.sourceCode, e.remark]));
        const pub = await getJson(`${t.url}/api/v1/public/cases/${code}`);
        assert.equal(pub.body.status, 'WITHDRAWN');
      }

      // Statements on the case tables only: the hub's pollers and leases run beside the request.
      // A poller's statement can fall inside one request's window: the fewest of three tries counts.
      const onCases = (sql: string[]) => sql.filter((s) => /\b(cases|events|case_refs)\b/.test(s));
      const fewest = async (code: string) => {
        let best: string[] | undefined;
        for (let i = 0; i < 3; i++) {
          const sent = onCases(await statementsDuring(db, () => view(code)));
          if (!best || sent.length < best.length) best = sent;
        }
        return best!;
      };
      const few = await fewest(sampleCode);
      const many = await fewest(longCode);
      assert.equal(few.length, 1, few.join('\n---\n'));
      assert.equal(many.length, few.length, many.join('\n---\n'));
    });

    it('hub reproject CODE… rebuilds the named cases, says which changed, and refuses unknown and malformed codes', async () => {
      const r = await runReproject([sampleCode, longCode, '--url', t.url, '--token', OPERATOR_TOKEN]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n').sort(), [sampleCode, longCode].sort());
      assert.match(r.stderr, /^reprojected 2\/2 named cases, 2 changed, \d+ cases\/s, in [\d.]+ s$/m);
      for (const code of [sampleCode, longCode]) await assertRowRebuilt(code);

      // Nothing differs now: a second run rewrites nothing.
      const again = await runReproject([sampleCode, '--url', t.url, '--token', OPERATOR_TOKEN]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, '');
      assert.match(again.stderr, /1\/1 named cases, 0 changed/);

      const unknown = issueSupervisionCode('130100', new Date());
      assert.equal((await getJson(`${t.url}/api/v1/cases/${unknown}`, SUPERVISOR)).status, 404);
      const missing = await runReproject([sampleCode, unknown, '--url', t.url, '--token', OPERATOR_TOKEN]);
      assert.equal(missing.code, 1, missing.stderr);
      assert.match(missing.stderr, new RegExp(`^no case with supervision code ${unknown}$`, 'm'));
      assert.match(missing.stderr, /2\/2 named cases, 0 changed/);
      const bad = await fetch(`${t.url}/api/v1/cases/reproject`, { method: 'POST', headers: { ...OPERATOR, 'content-type': 'application/json' }, body: JSON.stringify({ codes: [sampleCode, 'NOT-A-CODE'] }) });
      assert.equal(bad.status, 400);
      assert.match(bad.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((await bad.json() as any).field, 'codes[1]');
      const supervisor = await fetch(`${t.url}/api/v1/cases/reproject`, { method: 'POST', headers: { ...SUPERVISOR, 'content-type': 'application/json' }, body: JSON.stringify({ all: true }) });
      assert.equal(supervisor.status, 403);
      const cli = await runReproject(['--url', t.url, '--token', OPERATOR_TOKEN]);
      assert.equal(cli.code, 2);
      assert.match(cli.stderr, /usage: hub reproject/);
    });

    it('hub reproject --all goes through every case in batches, printing progress, and rebuilds the altered ones', async () => {
      const altered = codes.filter((_, i) => i % 4 === 0);
      for (const code of altered) await alter(code);
      for (const code of altered) assert.ok(await isAltered(code));
      const r = await runReproject(['--all', '--limit', '5', '--url', t.url, '--token', OPERATOR_TOKEN]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), altered);
      const lines = progressLines(r.stderr);
      // 26 cases by 5: five batches with more to come, then the last.
      assert.deepEqual(lines.map((l) => [l.done, l.total]), [[5, 26], [10, 26], [15, 26], [20, 26], [25, 26]], r.stderr);
      assert.deepEqual(lines.map((l) => l.after), [codes[4], codes[9], codes[14], codes[19], codes[24]]);
      assert.deepEqual(lines.map((l) => l.changed), [4, 9, 14, 19, 24].map((last) => altered.filter((c) => c <= codes[last]).length));
      assert.match(r.stderr, new RegExp(`^reprojected 26/26 cases, ${altered.length} changed, \\d+ cases/s, in [\\d.]+ s$`, 'm'));
      for (const code of altered) await assertRowRebuilt(code);
      for (const code of codes) assert.equal(await isAltered(code), false);
    });

    it('hub reproject --all, interrupted, resumes with the --after it printed and does the rest only', async () => {
      const altered = codes.filter((_, i) => i % 3 === 0);
      for (const code of altered) await alter(code);
      const proxy = await stallingProxy(t.url, 2);
      try {
        const cli = hubReproject(['--all', '--limit', '5', '--url', proxy.url, '--token', OPERATOR_TOKEN]);
        await waitFor('the third batch sent', () => proxy.held() === 1, 60_000);
        cli.proc.kill('SIGINT');
        assert.equal(await cli.exited, 130, cli.stderr());
        const lines = progressLines(cli.stderr());
        assert.deepEqual(lines.map((l) => [l.done, l.total, l.after]), [[5, 26, codes[4]], [10, 26, codes[9]]], cli.stderr());
        assert.match(cli.stderr(), new RegExp(`^interrupted; 10 cases reprojected, \\d+ changed\\nresume with: hub reproject --all --after ${codes[9]}$`, 'm'));
        const cursor = codes[9];
        assert.deepEqual(cli.stdout().trim().split('\n'), altered.filter((c) => c <= cursor));
        for (const code of altered) assert.equal(await isAltered(code), code > cursor, code);

        const resumed = await runReproject(['--all', '--after', cursor, '--limit', '5', '--url', t.url, '--token', OPERATOR_TOKEN]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.deepEqual(resumed.stdout.trim().split('\n'), altered.filter((c) => c > cursor));
        // Counted on from where the first run stopped: cases up to the cursor are not done again.
        assert.deepEqual(progressLines(resumed.stderr).map((l) => [l.done, l.total]), [[15, 26], [20, 26], [25, 26]], resumed.stderr);
        assert.match(resumed.stderr, /^reprojected 26\/26 cases, 5 changed, /m);
        for (const code of altered) await assertRowRebuilt(code);
      } finally {
        await proxy.close();
      }
    });
  });
}
