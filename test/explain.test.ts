import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import pg from 'pg';
import { postBatch } from '../infra/simulators/market-regulation';
import { buildReportEnvelope, startVehicleQueryService, generateChanges, VehicleQueryService, VehicleReport, VEHICLE_HALLS, REPORT_SOAP_ACTION } from '../infra/simulators/vehicle-office';
import { buildBatchXml, dropBatch, TaxRecordStream, withBadTaxpayerId } from '../infra/simulators/tax-bureau';
import { httpPost } from '../infra/simulators/http-post';
import { eventId } from '../adapters/kit/mapping/event-id';
import { ADAPTERS_DIR, DEMO_CONFIG } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { openStore } from '../services/store/open-store';
import { createTestDatabase } from './support/servers';
import { testDataDir, storeFor, SUPERVISOR, getJson, waitFor, STORES } from './support/hub';
import { StatementRecorder, planTables, planNodes, PlanNode } from './support/statement-recorder';
import { seedCases, registryCodes, STATUS_MIX } from './support/case-seed';
import { CANONICAL_STATUSES } from '../core/kernel/constants';
import { taxEvent } from './support/events';

// Acceptance: with 200,000 cases in the PostgreSQL store, no statement the intake and the case reads
// issue reads cases, case_refs, events or the inbox by a sequential scan (nor the dead letters, which
// grow with them). The statements and their plans come from the hub itself: every statement its
// store sends is explained, with its own parameters and on its own connection, right before it runs.
// Statistics (/stats/departments, the hub_cases gauge) count every case by design and are left out.

const CASES = 200_000;
// The size of the store in which a report's reference look-up was measured reading the whole table.
const SMALLER = 10_000;
const WATCHED = ['cases', 'case_refs', 'events', 'inbox', 'dead_letters'];

/** The demo configuration: the vehicle office polls this query service, the tax bureau's folder is looked at often. */
function writeConfig(dir: string, pollUrl: string): string {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  for (const a of config.adapters) {
    a.dir = path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id);
    if (a.id === 'vehicle-office') a.overrides = { transport: { options: { poll: { enabled: true, url: pollUrl, intervalSeconds: 0.3, initialStartTime: '2026-11-24 00:00:00', maxBackoffSeconds: 1 } } } };
    if (a.id === 'tax-bureau') a.overrides = { transport: { options: { pollIntervalMs: 200 } } };
  }
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

const sample = (adapter: string, name: string) => fs.readFileSync(path.join(ADAPTERS_DIR, adapter, 'samples', name));

/** The FHDM of a vehicle office push answer. */
async function push(url: string, envelope: Buffer, charset = 'utf-8'): Promise<number> {
  const r = await httpPost(`${url}/soap/vehicle-office`, envelope, { 'Content-Type': `text/xml; charset=${charset}`, SOAPAction: REPORT_SOAP_ACTION });
  const m = /<(?:\w+:)?FHDM>(-?\d+)</.exec(r.body.toString('utf8'));
  assert.ok(m, `an FHDM in the answer: ${r.body.toString('utf8').slice(0, 300)}`);
  return Number(m[1]);
}

function describePlan(plan: PlanNode, depth = 0): string {
  const self = `${'  '.repeat(depth)}${plan['Node Type']}${plan['Relation Name'] ? ` on ${plan['Relation Name']}` : ''}${plan['Index Name'] ? ` using ${plan['Index Name']}` : ''}`;
  return [self, ...(plan.Plans ?? []).map((p) => describePlan(p, depth + 1))].join('\n');
}

/** A hub on a fresh PostgreSQL store seeded with `cases` cases, every statement of its store recorded and explained. */
interface SeededHub {
  recorder: StatementRecorder;
  url: string;
  dataDir: string;
  /** The vehicle office's query service the hub polls. */
  svc: VehicleQueryService;
  /** Runs a step of the walk-through, its statements labelled with its name; checks that it sent some. */
  step(name: string, run: () => Promise<void>): Promise<void>;
  /** A count on a connection of the test's own, so that it is not among the hub's statements. */
  count(sql: string, params?: unknown[]): Promise<number>;
  /** ANALYZE of a table, on the test's own connection. */
  analyze(table: string): Promise<void>;
}

/** Such a hub for the enclosing describe block: started before its tests, stopped and dropped after them. */
function useSeededHub(cases: number): SeededHub {
  const h = { recorder: new StatementRecorder() } as SeededHub;
  let db: { url: string; drop(): Promise<void> } | null = null;
  let hub: RunningHub | null = null;
  let svc: VehicleQueryService | null = null;
  let check: pg.Client | null = null;
  h.step = async (name, run) => {
    const from = h.recorder.statements.length;
    h.recorder.during(name);
    await run();
    assert.ok(h.recorder.since(from).some((s) => s.plan), `${name}: the store was sent no statement to explain`);
  };
  h.count = async (sql, params = []) => Number((await check!.query<{ n: string }>(sql, params)).rows[0].n);
  h.analyze = async (table) => { await check!.query(`ANALYZE ${table}`); };
  before(async () => {
    db = await createTestDatabase();
    h.dataDir = testDataDir('explain', { store: 'none' });
    // The schema as the hub's migrations make it, then the seed.
    await (await openStore({ store: db.url, dataDir: h.dataDir, region: '130100' })).close();
    const started = Date.now();
    await seedCases(db.url, cases);
    process.stdout.write(`      seeded ${cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    check = new pg.Client({ connectionString: db.url });
    await check.connect();
    assert.equal(await h.count('SELECT count(*)::text AS n FROM cases'), cases, 'the seed is in the store the hub uses');
    h.svc = svc = await startVehicleQueryService({ port: 0, records: [] });
    const config = loadConfig({ HUB_CONFIG: writeConfig(h.dataDir, svc.url), HUB_HTTP_PORT: '0', HUB_DATA_DIR: h.dataDir, HUB_STORE: db.url, HUB_LOG_LEVEL: 'silent' });
    hub = await startHub(config, createLogger(config.logLevel), { observeStatements: h.recorder.observe });
    h.url = hub.url!;
  });
  after(async () => {
    await hub?.stop();
    await svc?.close();
    await check?.end();
    await db?.drop();
  });
  return h;
}

/**
 * Every transport's samples, re-sends (duplicates) and refused records (dead letters): a REST batch,
 * SOAP pushes, a SOAP poll page and tax-bureau files. Answers the supervision codes the hub gave.
 */
async function takeSamples(h: SeededHub): Promise<Set<string>> {
  const codes = new Set<string>();
  const inbound = `${h.url}/api/v1/inbound/market-regulation`;

  await h.step('rest: the sample batch', async () => {
    const r = await postBatch(inbound, sample('market-regulation', 'batch-01.json'));
    assert.equal(r.status, 200);
    const results = (r.body as any).results as { result: string; supervisionCode: string }[];
    assert.deepEqual(results.map((x) => x.result), ['accepted', 'accepted', 'accepted']);
    for (const x of results) codes.add(x.supervisionCode);
  });
  await h.step('rest: a batch with refused records', async () => {
    const r = await postBatch(inbound, sample('market-regulation', 'batch-02-odd-and-refused.json'));
    assert.equal(r.status, 200);
    const results = (r.body as any).results as { result: string; supervisionCode?: string }[];
    assert.ok(results.some((x) => x.result === 'rejected'), 'some records refused');
    assert.ok(results.some((x) => x.result === 'accepted'), 'some records applied');
    for (const x of results) if (x.supervisionCode) codes.add(x.supervisionCode);
  });
  await h.step('rest: the sample batch re-sent', async () => {
    const r = await postBatch(inbound, sample('market-regulation', 'batch-01.json'));
    assert.deepEqual(((r.body as any).results as { result: string }[]).map((x) => x.result), ['duplicate', 'duplicate', 'duplicate']);
  });

  await h.step('soap push: the samples', async () => {
    assert.equal(await push(h.url, sample('vehicle-office', '01-accepted-utf8.xml')), 1);
    assert.equal(await push(h.url, sample('vehicle-office', '02-supplement-requested.xml')), 1);
    assert.equal(await push(h.url, sample('vehicle-office', '03-submitted-gbk.xml'), 'GBK'), 1);
  });
  await h.step('soap push: refused reports', async () => {
    assert.equal(await push(h.url, sample('vehicle-office', '04-refused-id-check-digit.xml')), -1);
    assert.equal(await push(h.url, sample('vehicle-office', '05-refused-unknown-zt.xml')), -1);
  });
  await h.step('soap push: a report re-sent', async () => {
    assert.equal(await push(h.url, sample('vehicle-office', '01-accepted-utf8.xml')), 1);
  });

  await h.step('soap poll: a page of changes', async () => {
    const changes = generateChanges(60, { start: '2026-11-24 08:00:00', seed: 'explain' });
    const before = await h.count("SELECT (count(*) + (SELECT count(*) FROM dead_letters WHERE adapter = 'vehicle-office'))::text AS n FROM events WHERE adapter = 'vehicle-office'");
    h.svc.addRecords(changes);
    await waitFor('the polled changes applied', async () =>
      await h.count("SELECT (count(*) + (SELECT count(*) FROM dead_letters WHERE adapter = 'vehicle-office'))::text AS n FROM events WHERE adapter = 'vehicle-office'") >= before + changes.length, 60_000);
  });
  await h.step('soap push: a polled report pushed again', async () => {
    // One the poll applied (not one it refused): pushed again, it is a duplicate, answered 1.
    let polled: VehicleReport | null = null;
    for (const r of h.svc.records()) {
      if (await h.count('SELECT count(*)::text AS n FROM events WHERE id = $1', [eventId('vehicle-office', [r.LSH])])) { polled = r; break; }
    }
    assert.ok(polled, 'the poll applied some change');
    const hall = VEHICLE_HALLS.find((x) => x.GLBM === polled.GLBM) ?? VEHICLE_HALLS[0];
    const envelope = buildReportEnvelope(polled, { username: hall.username, password: hall.password, encoding: hall.encoding });
    assert.equal(await push(h.url, envelope, hall.encoding === 'gbk' ? 'GBK' : 'utf-8'), 1);
  });

  const inboxDir = path.join(h.dataDir, 'drop', 'tax-bureau', 'inbox');
  const receipt = (name: string) => path.join(h.dataDir, 'drop', 'tax-bureau', 'receipts', name.replace(/\.xml$/, '.receipt.xml'));
  const dropAndWait = async (name: string, xml: Buffer) => {
    await dropBatch(inboxDir, xml, { name });
    await waitFor(`the receipt of ${name}`, () => fs.existsSync(`${receipt(name)}.ok`), 60_000);
    return fs.readFileSync(receipt(name), 'utf8');
  };
  const taxSample = 'SWSX_11301000000_20261124093000_0001.xml';
  await h.step('file drop: the sample', async () => {
    assert.match(await dropAndWait(taxSample, sample('tax-bureau', taxSample)), /CGS="3"/);
  });
  await h.step('file drop: the sample again under another name', async () => {
    await dropAndWait('SWSX_11301000000_20261124093000_0002.xml', sample('tax-bureau', taxSample));
  });
  const records = new TaxRecordStream({ seed: 'explain', poolSize: 20 }).nextRecords(40);
  records[7] = withBadTaxpayerId(records[7]);
  await h.step('file drop: a file with a refused record', async () => {
    assert.match(await dropAndWait('SWSX_11301000000_20261125100000_0001.xml', buildBatchXml(records, { pch: '20261125100000001', scsj: Date.now(), encoding: 'GB18030' })), /SBS="1"/);
  });
  await h.step('file drop: the same records in a new batch', async () => {
    const events = await h.count("SELECT count(*)::text AS n FROM events WHERE adapter = 'tax-bureau'");
    assert.match(await dropAndWait('SWSX_11301000000_20261125110000_0001.xml', buildBatchXml(records, { pch: '20261125110000001', scsj: Date.now(), encoding: 'GB18030' })), /SBS="1"/);
    assert.equal(await h.count("SELECT count(*)::text AS n FROM events WHERE adapter = 'tax-bureau'"), events, 'every record a duplicate');
  });

  return codes;
}

/** Every case read: the case, its public view, look-ups, and the list unfiltered, by every value of each filter, and by cursor. */
async function readCases(h: SeededHub, codes: ReadonlySet<string>): Promise<void> {
  // The case reads, on the cases the hub made from the samples.
  const views: any[] = [];
  for (const code of codes) {
    await h.step(`GET /cases/{code}`, async () => {
      const v = await getJson(`${h.url}/api/v1/cases/${code}`, SUPERVISOR);
      assert.equal(v.status, 200, JSON.stringify(v.body));
      assert.ok(v.body.timeline.length >= 1);
      views.push(v.body);
    });
  }
  const view = views.find((v) => v.department.hall) ?? views[0];
  await h.step('GET /public/cases/{code}', async () => {
    const p = await getJson(`${h.url}/api/v1/public/cases/${view.supervisionCode}`);
    assert.equal(p.status, 200);
    assert.equal(p.body.status, view.status);
  });
  await h.step('GET /cases/lookup', async () => {
    const ref = view.references[0];
    const l = await getJson(`${h.url}/api/v1/cases/lookup?system=${ref.system}&localId=${encodeURIComponent(ref.localId)}`, SUPERVISOR);
    assert.deepEqual(l.body, { supervisionCode: view.supervisionCode });
  });
  await h.step('GET /cases/lookup of an unknown case', async () => {
    assert.equal((await getJson(`${h.url}/api/v1/cases/lookup?system=${view.references[0].system}&localId=NO-SUCH-CASE`, SUPERVISOR)).status, 404);
  });
  const list = async (query: string) => {
    const r = await getJson(`${h.url}/api/v1/cases?${query}`, SUPERVISOR);
    assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
    return r.body as { items: any[]; nextCursor: string | null };
  };
  await h.step('GET /cases', async () => { assert.equal((await list('')).items.length, 50); });
  // Every value each filter takes: every department and hall (one of them has no case at all), item,
  // status and light.
  const known = registryCodes();
  const filters = [
    ...[...known.departments, ...known.halls].map((c) => `department=${c}`),
    ...known.items.map((c) => `item=${encodeURIComponent(c)}`),
    ...CANONICAL_STATUSES.map((c) => `status=${c}`),
    ...['GREEN', 'YELLOW', 'RED'].map((c) => `light=${c}`),
  ];
  for (const v of views) assert.ok(filters.includes(`department=${v.department.code}`) && filters.includes(`status=${v.status}`), 'the hub\'s own cases are among those filtered');
  for (const f of filters) {
    await h.step(`GET /cases?${f.replace(/=.*/, '=…')}`, async () => {
      const page = await list(`${f}&limit=20`);
      const [key, value] = f.split('=');
      for (const item of page.items) {
        if (key === 'status' || key === 'light') assert.equal(item[key], value);
        if (key === 'item') assert.equal(item.item.code, decodeURIComponent(value));
        if (key === 'department') assert.ok(item.department.code === value || item.department.hall?.code === value);
      }
    });
  }
  await h.step('GET /cases with a cursor', async () => {
    const first = await list(`department=${view.department.code}&limit=5`);
    assert.ok(first.nextCursor);
    const second = await list(`department=${view.department.code}&limit=5&cursor=${encodeURIComponent(first.nextCursor!)}`);
    assert.equal(second.items.length, 5);
    assert.ok(!second.items.some((x) => first.items.some((y) => y.supervisionCode === x.supervisionCode)), 'the next page, not the same one');
  });
}

/** The tables the explained statements read and wrote, so that a check of their plans cannot pass on nothing. */
function tablesSeen(recorder: StatementRecorder): { reads: Set<string>; writes: Set<string> } {
  const reads = new Set<string>();
  const writes = new Set<string>();
  for (const s of recorder.statements) {
    if (!s.plan) continue;
    const t = planTables(s.plan);
    t.reads.forEach((x) => reads.add(x));
    t.writes.forEach((x) => writes.add(x));
  }
  return { reads, writes };
}

/** Fails with each statement (and its plan) that reads one of these tables by a sequential scan. */
function assertNoSeqScans(recorder: StatementRecorder, tables: readonly string[]): void {
  const scans = recorder.seqScans(tables);
  const report = [...new Map(scans.map((s) => [`${s.relation}\u0000${s.sql}`, s])).values()]
    .map((s) => `${s.relation} scanned in "${s.step}":\n${s.sql.replace(/\s+/g, ' ').trim()}\n${describePlan(s.plan)}`);
  assert.deepEqual(report, [], `sequential scans:\n\n${report.join('\n\n')}`);
}

/**
 * Each read of cases in the plans of these steps: its node, and the indexes it reads (a bitmap
 * scan's are those of the index scans under it). Asserts that the steps read cases at least once each
 * on the whole, so that an empty list never passes for a good plan.
 */
function casesScans(recorder: StatementRecorder, steps: readonly string[]): { step: string; node: string; indexes: string[] }[] {
  const scans = recorder.statements.filter((s) => s.plan && steps.includes(s.step)).flatMap((s) =>
    [...planNodes(s.plan!)].filter((n) => n['Relation Name'] === 'cases').map((n) => ({
      step: s.step,
      node: String(n['Node Type']),
      indexes: n['Index Name'] ? [String(n['Index Name'])] : [...planNodes(n)].filter((c) => c['Node Type'] === 'Bitmap Index Scan').map((c) => String(c['Index Name'])),
    })));
  assert.ok(scans.length >= steps.length, `each list read cases (${scans.length} scans over ${steps.length} requests)`);
  return scans;
}

describe(`statement plans with ${CASES.toLocaleString('en')} cases in the store (postgres store)`, function () {
  this.timeout(300_000);
  const h = useSeededHub(CASES);

  it('takes every transport\'s samples, re-sends and refusals, and serves every case read, without a sequential scan of cases, case_refs, events, the inbox or the dead letters', async () => {
    await readCases(h, await takeSamples(h));
    h.recorder.during('end');

    const { reads, writes } = tablesSeen(h.recorder);
    for (const table of WATCHED) assert.ok(reads.has(table), `some explained statement reads ${table} (read: ${[...reads].join(', ')})`);
    for (const table of [...WATCHED, 'poll_cursors', 'file_drops', 'file_drop_results']) assert.ok(writes.has(table), `some explained statement writes ${table} (written: ${[...writes].join(', ')})`);
    const explained = h.recorder.statements.filter((s) => s.plan);
    for (const s of ['GET /cases/{code}', 'GET /cases/lookup', 'GET /cases?status=…', 'GET /cases?light=…', 'GET /cases?item=…', 'GET /cases?department=…', 'GET /cases with a cursor']) {
      assert.ok(explained.some((x) => x.step === s && planTables(x.plan!).reads.has('cases')), `${s}: a statement reading cases was explained`);
    }
    process.stdout.write(`      ${h.recorder.statements.length} statements, ${explained.length} explained, over ${new Set(explained.map((s) => s.step)).size} steps\n`);
    const small = [...new Set(h.recorder.seqScans([...reads].filter((t) => !WATCHED.includes(t))).map((s) => s.relation))];
    process.stdout.write(`      other tables read by sequential scan (a few rows each here): ${small.sort().join(', ') || 'none'}\n`);
    assertNoSeqScans(h.recorder, WATCHED);
  });

  it('reads a department\'s or a hall\'s cases of a rare status, with a light or without, through an index that holds the status, not by checking the status on each of its cases read', async () => {
    const known = registryCodes();
    // The seed's rarest statuses: one case in two hundred.
    const rare = STATUS_MIX.filter(([, perMille]) => perMille <= 5).map(([status]) => status);
    assert.ok(rare.length >= 2, `rare statuses of the seed: ${rare.join(', ')}`);
    const steps: string[] = [];
    for (const code of [...known.departments, ...known.halls]) {
      for (const status of rare) {
        for (const light of ['', 'RED']) {
          const query = `department=${code}${light ? `&light=${light}` : ''}&status=${status}&limit=20`;
          steps.push(query);
          await h.step(query, async () => {
            const r = await getJson(`${h.url}/api/v1/cases?${query}`, SUPERVISOR);
            assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
            for (const item of (r.body as { items: any[] }).items) {
              assert.equal(item.status, status);
              if (light) assert.equal(item.light, light);
              assert.ok(item.department.code === code || item.department.hall?.code === code);
            }
          });
        }
      }
    }
    const scans = casesScans(h.recorder, steps);
    // PostgreSQL takes the department's (or hall's) and status's index, or the status's and light's
    // (migration 030) when a light is asked too, alone or with the other in a bitmap: each holds the status.
    const holdsStatus = ['cases_department_status', 'cases_hall_status', 'cases_status_light'];
    const other = scans.filter((x) => !x.indexes.some((i) => holdsStatus.includes(i)));
    assert.deepEqual(other, [], 'every read of cases goes through an index that holds the status');
  });

  it('reads the city\'s cases of a rare status and a light, every department\'s, through an index that holds both, not by walking the light\'s cases', async () => {
    // The seed's rarest statuses: one case in two hundred, all of them GREEN or without a light, so
    // that RED and YELLOW pages are empty: a walk of the light's index would read every case of it.
    const rare = STATUS_MIX.filter(([, perMille]) => perMille <= 5).map(([status]) => status);
    const steps: string[] = [];
    for (const status of rare) {
      for (const light of ['RED', 'YELLOW', 'GREEN']) {
        const query = `status=${status}&light=${light}&limit=20`;
        steps.push(query);
        await h.step(query, async () => {
          const r = await getJson(`${h.url}/api/v1/cases?${query}`, SUPERVISOR);
          assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
          for (const item of (r.body as { items: any[] }).items) assert.deepEqual([item.status, item.light], [status, light]);
        });
      }
    }
    const scans = casesScans(h.recorder, steps);
    assert.deepEqual(scans.filter((x) => x.indexes.join() !== 'cases_status_light'), [], 'every read of cases goes through the status-and-light index alone');
  });

  // Last of this block: it moves most of a status's cases to another status.
  it('reads the city\'s cases of a status that few cases have through the status\'s index, not by walking the list of every case', async () => {
    const [status, other] = ['RESUMED', 'SUSPENDED'];
    const keep = 5;
    const moved = await h.count(`WITH m AS (UPDATE cases SET status = $2 WHERE supervision_code IN
      (SELECT supervision_code FROM cases WHERE status = $1 ORDER BY supervision_code OFFSET ${keep}) RETURNING 1)
      SELECT count(*)::text AS n FROM m`, [status, other]);
    assert.ok(moved > 100, `${moved} cases moved from ${status}`);
    // PostgreSQL's statistics, as its autovacuum would have them after such a change.
    await h.analyze('cases');
    const query = `status=${status}&limit=20`;
    await h.step(query, async () => {
      const r = await getJson(`${h.url}/api/v1/cases?${query}`, SUPERVISOR);
      assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
      assert.deepEqual((r.body as { items: any[] }).items.map((x) => x.status), Array(keep).fill(status));
    });
    const scans = casesScans(h.recorder, [query]);
    assert.deepEqual(scans.filter((x) => x.indexes.join() !== 'cases_status_light'), [], 'every read of cases goes through the status-and-light index');
  });
});

describe(`statement plans of the intake with ${SMALLER.toLocaleString('en')} cases in the store (postgres store)`, function () {
  this.timeout(300_000);
  const h = useSeededHub(SMALLER);

  it('looks every reference, event and case up by its key, not by reading the table, for a single report as for a file', async () => {
    await takeSamples(h);
    h.recorder.during('end');
    // The dead letters are a hundred rows here, which PostgreSQL rightly reads whole.
    const tables = WATCHED.filter((t) => t !== 'dead_letters');
    const { reads } = tablesSeen(h.recorder);
    for (const table of tables) assert.ok(reads.has(table), `some explained statement reads ${table} (read: ${[...reads].join(', ')})`);
    assertNoSeqScans(h.recorder, tables);
  });
});


for (const kind of STORES) {
  describe(`the store's statement observer (${kind} store)`, function () {
    this.timeout(120_000);

    it('is shown each statement before it runs, and runs its own on the same connection, inside the same transaction', async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      const recorder = new StatementRecorder();
      // What the transaction had written when its case rows were about to be written: seen only from inside it.
      const eventsSeen: number[] = [];
      const store = await openStore({
        store: db ? db.url : 'embedded', dataDir: testDataDir(`observer-${kind}`, storeFor(kind)), region: '130100',
        observe: async (statement, sameConnection) => {
          if (/^\s*(INSERT INTO|COPY) cases\b/.test(statement.sql)) {
            eventsSeen.push(Number((await sameConnection('SELECT count(*)::int AS n FROM events', [])).rows[0].n));
          }
          await recorder.observe(statement, sameConnection);
        },
      });
      try {
        const from = recorder.statements.length;
        recorder.during('apply');
        const results = await store.cases.apply([
          taxEvent('o1', 'SX-OBSERVED-1', 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
          taxEvent('o2', 'SX-OBSERVED-1', 'ACCEPTED', '2026-11-24T10:00:00+08:00'),
          taxEvent('o3', 'SX-OBSERVED-2', 'SUBMITTED', '2026-11-24T11:00:00+08:00'),
        ], { receivedAt: new Date() });
        assert.deepEqual(results.map((r) => r.result), ['accepted', 'accepted', 'accepted']);
        assert.deepEqual(eventsSeen, [3], 'the three events, not yet committed, seen from the observer');
        const applied = recorder.since(from);
        const explained = applied.filter((x) => x.plan);
        const reads = new Set(explained.flatMap((x) => [...planTables(x.plan!).reads]));
        for (const table of ['events', 'case_refs']) assert.ok(reads.has(table), `a plan reads ${table}: ${[...reads].join(', ')}`);
        // Rows appended in bulk: by COPY on the embedded store (recorded, with no plan), by INSERT on PostgreSQL.
        const appended = applied.filter((x) => /^\s*(INSERT INTO|COPY) events\b/.test(x.sql));
        assert.equal(appended.length, 1, applied.map((x) => x.sql).join('\n'));
        assert.equal(appended[0].plan === null, kind === 'embedded');
        // Afterwards the store reads as it would without an observer.
        const code = (results[0] as { supervisionCode: string }).supervisionCode;
        assert.equal((await store.cases.lookup('tax-bureau', 'SX-OBSERVED-1')), code);
        assert.equal(await store.cases.countEvents(), 3);
      } finally {
        await store.close();
        await db?.drop();
      }
    });
  });
}
