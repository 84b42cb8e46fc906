import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { XMLParser } from 'fast-xml-parser';
import { ROOT, ADAPTERS_DIR } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { expandBody } from '../core/ports/event-row';
import { openEvent } from '../core/ports/sealed-data';
import { startHub, RunningHub } from '../cli/start-hub';
import { postBatch } from '../infra/simulators/market-regulation';
import { REPORT_SOAP_ACTION, startVehicleQueryService, VehicleQueryService, VehicleReport } from '../infra/simulators/vehicle-office';
import { dropBatch } from '../infra/simulators/tax-bureau';
import { httpPost } from '../infra/simulators/http-post';
import { STORES, testDataDir, waitFor } from './support/hub';
import { createTestDatabase } from './support/servers';

// One sample of each transport — REST webhook, SOAP push, SOAP poll, file drop — taken by one hub:
// each goes through the intake's one apply step (counted by its stage metric), stores the events
// its sample expects, and is counted once per record in hub_inbound_messages_total.

const sampleFile = (adapter: string, name: string) => path.join(ADAPTERS_DIR, adapter, 'samples', name);
const expected = (adapter: string, name: string) =>
  JSON.parse(fs.readFileSync(sampleFile(adapter, name.replace(/\.(json|xml)$/, '.expected.json')), 'utf8')) as { events?: any[]; records?: { events?: any[]; rejected?: unknown }[] };

/** A sample's expected events, as the store must give them back (provenance beyond adapter and record is the store's own). */
function expectedEvents(adapter: string, name: string): any[] {
  const e = expected(adapter, name);
  const list = e.events ?? (e.records ?? []).flatMap((r) => r.events ?? []);
  assert.ok(list.length > 0, `${adapter}/${name} expects events`);
  return list;
}

/** The report a pushed sample carries, as the office's feed would list it. */
function reportOf(xmlFile: string): VehicleReport {
  const body = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true }).parse(fs.readFileSync(xmlFile)).Envelope.Body;
  const r = body.ReportCaseStatusRequest;
  const text = (v: unknown) => (v === undefined || v === null || typeof v === 'object' ? '' : String(v));
  return {
    LSH: text(r.LSH), GLBM: text(r.GLBM), SLBH: text(r.SLBH), JGM: text(r.JGM), YWLX: text(r.YWLX), ZT: text(r.ZT), ZTSJ: text(r.ZTSJ),
    SQR: { XM: text(r.SQR.XM), SFZMMC: text(r.SQR.SFZMMC), SFZMHM: text(r.SQR.SFZMHM), LXDH: text(r.SQR.LXDH) }, JBR: text(r.JBR), BZ: text(r.BZ),
  };
}

/** A sample's value in Prometheus text; `labels` as written there, braces included. */
const metric = (text: string, name: string, labels: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(name.length + labels.length + 1)) : 0;
};

interface Counts { applySteps: number; accepted: number; rejected: number; duplicate: number }

for (const kind of STORES) {
  describe(`one intake pipeline for every transport (${kind} store)`, function () {
    this.timeout(120_000);
    let hub: RunningHub;
    let svc: VehicleQueryService;
    let dropDb: (() => Promise<void>) | null = null;
    let dataDir: string;

    before(async () => {
      svc = await startVehicleQueryService({ port: 0, records: [] });
      dataDir = testDataDir(`pipeline-${kind}`);
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? db.drop : null;
      const file = path.join(dataDir, 'hub.yaml');
      fs.writeFileSync(file, YAML.stringify({
        region: '130100',
        tokens: [{ name: 'operator', token: 'pipeline-operator', roles: ['operator'] }],
        adapters: [
          { id: 'market-regulation', dir: path.join(ROOT, 'adapters/market-regulation') },
          {
            id: 'vehicle-office', dir: path.join(ROOT, 'adapters/vehicle-office'),
            overrides: { transport: { options: { poll: { enabled: true, url: svc.url, intervalSeconds: 0.2, initialStartTime: '2026-11-24 00:00:00', maxBackoffSeconds: 1 } } } },
          },
          { id: 'tax-bureau', dir: path.join(ROOT, 'adapters/tax-bureau'), overrides: { transport: { options: { pollIntervalMs: 100 } } } },
        ],
        shutdownGraceSeconds: 5,
      }));
      const config = loadConfig({ HUB_CONFIG: file, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db ? db.url : 'embedded', HUB_LOG_LEVEL: 'silent' });
      hub = await startHub(config, createLogger('silent'));
    });

    after(async () => {
      await hub?.stop();
      await svc?.close();
      await dropDb?.();
    });

    const counts = async (adapter: string): Promise<Counts> => {
      const text = await fetch(`${hub.url}/metrics`).then((r) => r.text());
      const inbound = (result: string) => metric(text, 'hub_inbound_messages_total', `{adapter="${adapter}",result="${result}"}`);
      return { applySteps: metric(text, 'hub_stage_duration_seconds_count', '{stage="apply"}'), accepted: inbound('accepted'), rejected: inbound('rejected'), duplicate: inbound('duplicate') };
    };
    const delta = (a: Counts, b: Counts): Counts => ({ applySteps: b.applySteps - a.applySteps, accepted: b.accepted - a.accepted, rejected: b.rejected - a.rejected, duplicate: b.duplicate - a.duplicate });

    /** The stored events of the given ids, as the store gives them back, without the provenance the store adds. */
    const stored = async (ids: string[]) => {
      const r = await hub.context.store.driver.query<any>('SELECT id, adapter, raw_message_id, supervision_code, body FROM events WHERE id = ANY($1::text[])', [ids]);
      // Personal data is stored sealed: opened with the hub's keys, the event is the one mapped.
      const byId = new Map(r.rows.map((row) => [row.id, openEvent(hub.context.store.keys, expandBody(row.body, { id: row.id, adapter: row.adapter, rawMessageId: row.raw_message_id, supervisionCode: row.supervision_code }))]));
      return ids.map((id) => byId.get(id));
    };

    /** Both sides compared as the sample's expected output states an event: no subject; of the provenance, adapter and record (the raw message and profile version are the run's). */
    const comparable = (e: any) => {
      if (!e) return e;
      const { subject, ...rest } = e;
      const { adapter, record } = e.data.provenance;
      return { ...rest, data: { ...e.data, provenance: { adapter, record } } };
    };

    const assertStoredAsExpected = async (adapter: string, name: string) => {
      const want = expectedEvents(adapter, name);
      const got = await stored(want.map((e) => e.id));
      assert.deepEqual(got.map(comparable), want.map(comparable), `${adapter}/${name}: the stored events are the sample's expected events`);
      for (const e of got) assert.match(e!.subject!, /^130100\d{8}[0-9A-Z]{10}$/, 'each stored event has its case\'s supervision code');
    };

    it('REST: a signed webhook batch is applied in one apply step, stored as its sample expects and counted once per event', async () => {
      const before = await counts('market-regulation');
      const r = await postBatch(`${hub.url}/api/v1/inbound/market-regulation`, fs.readFileSync(sampleFile('market-regulation', 'batch-01.json')));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const d = delta(before, await counts('market-regulation'));
      const n = expectedEvents('market-regulation', 'batch-01.json').length;
      assert.deepEqual(d, { applySteps: 1, accepted: n, rejected: 0, duplicate: 0 });
      await assertStoredAsExpected('market-regulation', 'batch-01.json');
    });

    it('SOAP push: a report is applied in one apply step, stored as its sample expects and counted once', async () => {
      const before = await counts('vehicle-office');
      const r = await httpPost(`${hub.url}/soap/vehicle-office`, fs.readFileSync(sampleFile('vehicle-office', '01-accepted-utf8.xml')), { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: REPORT_SOAP_ACTION });
      assert.equal(r.status, 200, r.body.toString());
      assert.match(r.body.toString(), /<(\w+:)?FHDM>1<\/(\w+:)?FHDM>/);
      assert.deepEqual(delta(before, await counts('vehicle-office')), { applySteps: 1, accepted: 1, rejected: 0, duplicate: 0 });
      await assertStoredAsExpected('vehicle-office', '01-accepted-utf8.xml');
    });

    it('SOAP poll: the same report read from the office\'s feed is applied in one apply step, stored as its pushed sample expects and counted once', async () => {
      const before = await counts('vehicle-office');
      svc.addRecords([reportOf(sampleFile('vehicle-office', '02-supplement-requested.xml'))]);
      const [id] = expectedEvents('vehicle-office', '02-supplement-requested.xml').map((e) => e.id);
      await waitFor('the polled report stored', async () => (await stored([id]))[0], 20_000);
      assert.deepEqual(delta(before, await counts('vehicle-office')), { applySteps: 1, accepted: 1, rejected: 0, duplicate: 0 });
      await assertStoredAsExpected('vehicle-office', '02-supplement-requested.xml');
    });

    it('file drop: a batch file is applied in one apply step with its receipt, stored as its sample expects and counted once per record', async () => {
      const name = 'SWSX_11301000000_20261124093000_0001.xml';
      const before = await counts('tax-bureau');
      const inbox = path.join(dataDir, 'drop', 'tax-bureau', 'inbox');
      fs.mkdirSync(inbox, { recursive: true });
      await dropBatch(inbox, fs.readFileSync(sampleFile('tax-bureau', name)), { name });
      const receipts = path.join(dataDir, 'drop', 'tax-bureau', 'receipts');
      await waitFor('the receipt', () => fs.existsSync(receipts) && fs.readdirSync(receipts).some((f) => f.endsWith('.ok')), 30_000);
      const want = expectedEvents('tax-bureau', name);
      const records = expected('tax-bureau', name).records!;
      assert.deepEqual(delta(before, await counts('tax-bureau')), {
        applySteps: 1, accepted: records.filter((r) => r.events).length, rejected: records.filter((r) => r.rejected).length, duplicate: 0,
      }, 'one chunk, one apply step; every record counted once');
      await assertStoredAsExpected('tax-bureau', name);
    });
  });
}
