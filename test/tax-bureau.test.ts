import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { XMLParser } from 'fast-xml-parser';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildBatchXml, dropBatch, TaxRecordStream, TaxBureauDropSimulator, withBadTaxpayerId, writeLargeBatchFile, TaxRecord } from '../infra/simulators/tax-bureau';
import { ADAPTERS_DIR, DEMO_CONFIG } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { openStore } from '../services/store/open-store';
import { issueSupervisionCode } from '../core/identifiers/supervision-code';
import { createTestDatabase } from './support/servers';
import { receiptPaths, ReceiptSpec } from '../adapters/kit/transports/file-drop/file-drop-receipt';
import { readBatchFile, BatchFileFormat } from '../adapters/kit/xml/batch-file';
import type { CaseEvent } from '../contracts/types';
import { TARGETS } from './support/cluster';
import { STORES, StoreKind, startTestHub, TestHub, SUPERVISOR, OPERATOR, getJson, spawnHub, makeRunNode, testDataDir, storeFor, HubProcess, waitFor, rssBytes, settled } from './support/hub';

// The bureau's sample, as handed over (adapters/tax-bureau/samples keeps the copy).
const SAMPLE_NAME = 'SWSX_11301000000_20261124093000_0001.xml';
const SAMPLE = path.join(ADAPTERS_DIR, 'tax-bureau', 'samples', SAMPLE_NAME);

const receiptParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, parseAttributeValue: false, isArray: (name) => name === 'JG' });

interface Receipt {
  text: string;
  root: Record<string, string> & { JG?: Record<string, string>[]; CW?: string };
}

/** A hub configuration: the demo one, with the tax bureau's options changed (a quicker poll in tests). */
function writeConfig(dir: string, taxOptions: Record<string, unknown>): string {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  for (const a of config.adapters) {
    a.dir = path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id);
    if (a.id === 'tax-bureau') a.overrides = { transport: { options: taxOptions } };
  }
  // The vehicle office's poller would only report that its simulator is not running.
  config.adapters = config.adapters.filter((a: { id: string }) => a.id !== 'vehicle-office');
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

const TAX_RECEIPT: ReceiptSpec = YAML.parse(fs.readFileSync(path.join(ADAPTERS_DIR, 'tax-bureau', 'adapter.yaml'), 'utf8')).transport.options.receipt;

function folders(dataDir: string) {
  const root = path.join(dataDir, 'drop', 'tax-bureau');
  return { root, inbox: path.join(root, 'inbox'), receipts: path.join(root, 'receipts'), archive: path.join(root, 'archive') };
}

function receiptFile(dataDir: string, name: string): string {
  return path.join(folders(dataDir).receipts, name.replace(/\.xml$/, '.receipt.xml'));
}

function readReceipt(file: string): Receipt {
  const text = fs.readFileSync(file, 'utf8');
  return { text, root: receiptParser.parse(text).SWSXReceipt };
}

async function receiptOf(dataDir: string, name: string, timeoutMs = 30_000): Promise<Receipt> {
  const file = receiptFile(dataDir, name);
  await waitFor(`the receipt of ${name}`, () => fs.existsSync(file + '.ok'), timeoutMs);
  return readReceipt(file);
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).map((f) => path.basename(f));
}

/** Where a file the hub took is archived (any outcome). */
function archivedCopy(archive: string, name: string): string | null {
  if (!fs.existsSync(archive)) return null;
  const hit = (fs.readdirSync(archive, { recursive: true }) as string[]).find((f) => f.endsWith(`--${name}`));
  return hit ? path.join(archive, hit) : null;
}

let seq = 100;
/** A file name the bureau would use, unique in this test run. */
function fileName(): string {
  seq++;
  // Another office code than the simulator's, so that names never collide with the files it drops.
  return `SWSX_11301000001_20261125${String(100000 + (seq % 900000)).padStart(6, '0')}_${String(seq % 10000).padStart(4, '0')}.xml`;
}

/** A status time `yyyyMMddHHmmss` (Beijing) one hour later, over midnight too. */
function anHourLater(ztsj: string): string {
  const [y, mo, d, h, mi, se] = [0, 4, 6, 8, 10, 12].map((at, i) => Number(ztsj.slice(at, at + (i === 0 ? 4 : 2))));
  const t = new Date(Date.UTC(y, mo - 1, d, h + 1, mi, se));
  return t.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function records(n: number, seed: string): TaxRecord[] {
  return new TaxRecordStream({ seed, poolSize: 50 }).nextRecords(n);
}

function batchOf(recs: TaxRecord[], opts: { jls?: number; encoding?: 'GB18030' | 'UTF-8' } = {}): Buffer {
  return buildBatchXml(recs, { pch: `20261125${String(Date.now()).slice(-9)}`, scsj: Date.now(), encoding: opts.encoding ?? 'GB18030', jls: opts.jls });
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

function metricValue(text: string, name: string, labels: string): number {
  const m = new RegExp(`^${name}\\{${labels.replace(/[{}]/g, '')}\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

for (const store of TARGETS) {
  describe(`tax bureau file drop → cases and receipts (${store})`, function () {
    this.timeout(180_000);
    let t: TestHub;
    let dirs: ReturnType<typeof folders>;
    const db = () => t.hub.context.store.driver;
    const eventCount = async () => Number((await db().query<{ n: string }>('SELECT count(*)::text AS n FROM events')).rows[0].n);
    const lookup = (localId: string) => getJson(`${t.url}/api/v1/cases/lookup?system=tax-bureau&localId=${localId}`, SUPERVISOR);
    const caseOf = async (localId: string) => {
      const l = await lookup(localId);
      assert.equal(l.status, 200, `${localId}: ${JSON.stringify(l.body)}`);
      return (await getJson(`${t.url}/api/v1/cases/${l.body.supervisionCode}`, SUPERVISOR)).body;
    };
    const fileRow = async (name: string) => (await db().query<any>('SELECT * FROM file_drops WHERE name = $1 ORDER BY claimed_at', [name])).rows;

    before(async () => {
      const configDir = testDataDir('tax-config', { store: 'none' });
      t = await startTestHub(store, { HUB_CONFIG: writeConfig(configDir, { pollIntervalMs: 200 }) });
      dirs = folders(t.dataDir);
    });
    after(async () => { await t?.stop(); });

    it('applies the sample: records 1–3 applied, record 4 refused naming the credit code check; receipt CGS="3" SBS="1" with its .ok', async () => {
      await dropBatch(dirs.inbox, fs.readFileSync(SAMPLE), { name: SAMPLE_NAME });
      const receipt = await receiptOf(t.dataDir, SAMPLE_NAME);
      const r = receipt.root;
      assert.match(receipt.text, /^<\?xml version="1\.0" encoding="UTF-8"\?>/);
      assert.equal(r.xmlns, 'urn:gov:chinatax:swsx:v2');
      assert.equal(r.PCH, '20261124093000001');
      assert.match(r.CLSJ, /^\d{14}$/);
      assert.equal(r.CGS, '3');
      assert.equal(r.SBS, '1');
      assert.equal(r.CW, undefined);
      assert.deepEqual(r.JG!.map((j) => [j.SWSXBH, j.ZT]), [
        ['SX13010020261124000017', '1'], ['SX13010020261124000017', '1'], ['SX13010020261124000018', '1'], ['SX13010020261124000019', '0'],
      ]);
      assert.match(r.JG![3].YY, /^纳税人识别号校验位错误/);
      assert.equal(r.JG![3].JGM, undefined);

      await settled(t.url);
      const accepted = await caseOf('SX13010020261124000017');
      assert.equal(accepted.status, 'ACCEPTED');
      assert.deepEqual(accepted.item, { code: '130100-SW-0001', name: '增值税一般纳税人登记' });
      assert.deepEqual(accepted.department, { code: '11130100MB0194826G', name: '国家税务总局石家庄市税务局' });
      assert.equal(accepted.applicant.kind, 'ORGANISATION');
      assert.equal(accepted.applicant.idType, 'USCC');
      assert.deepEqual(accepted.timeline.map((e: any) => [e.status, e.sourceCode]), [['SUBMITTED', '01'], ['ACCEPTED', '02']]);
      assert.equal(r.JG![0].JGM, accepted.supervisionCode);
      assert.equal(r.JG![1].JGM, accepted.supervisionCode);
      const stored = await t.hub.context.store.cases.get(accepted.supervisionCode);
      assert.equal(stored!.projection.applicant.idNumber, '91130100MA0CK3L52K');

      const completed = await caseOf('SX13010020261124000018');
      assert.equal(completed.status, 'COMPLETED');
      assert.equal(r.JG![2].JGM, completed.supervisionCode);
      // First seen COMPLETED: handled outside the system, applied, and RED with the violation.
      assert.deepEqual(completed.violations.map((v: any) => [v.code, v.reason]), [['NO_ACCEPTANCE', '未受理即办结 (completed with no acceptance on record)']]);
      assert.equal(completed.light, 'RED');

      assert.equal((await lookup('SX13010020261124000019')).status, 404);
      const dl = await getJson(`${t.url}/api/v1/dead-letters?adapter=tax-bureau`, OPERATOR);
      const letter = dl.body.items.find((d: any) => d.field === 'NSRSBH');
      assert.ok(letter, JSON.stringify(dl.body));
      assert.match(letter.reason, /纳税人识别号校验位错误/);
      assert.equal(letter.rawMessageId, (await fileRow(SAMPLE_NAME))[0].id);

      // The inbox is left empty; the file is archived as processed.
      await waitFor('the file archived', async () => (await fileRow(SAMPLE_NAME))[0]?.state === 'archived');
      assert.deepEqual(fs.readdirSync(dirs.inbox), []);
      assert.ok(filesUnder(path.join(dirs.archive, 'processed')).some((f) => f.endsWith(`--${SAMPLE_NAME}`)));
      assert.ok(fs.existsSync(receiptFile(t.dataDir, SAMPLE_NAME) + '.ok'));

      const m = await metricsText(t.url);
      assert.equal(metricValue(m, 'hub_inbound_messages_total', 'adapter="tax-bureau",result="accepted"'), 3);
      assert.equal(metricValue(m, 'hub_inbound_messages_total', 'adapter="tax-bureau",result="rejected"'), 1);
      assert.equal(metricValue(m, 'hub_files_total', 'adapter="tax-bureau",result="processed"'), 1);
      assert.equal(metricValue(m, 'hub_file_bytes_total', 'adapter="tax-bureau"'), fs.statSync(SAMPLE).size);
      assert.match(m, /hub_file_duration_seconds_count\{adapter="tax-bureau"\} 1/);
    });

    it('stores every event of a file mapped in a worker thread whole, as the profile maps its record', async () => {
      // Over workerThresholdBytes (1 MiB by default): read and mapped in a worker, which hands on
      // less of each event than it stores.
      const recs = records(4000, `worker-${store}`);
      const name = fileName();
      const bytes = batchOf(recs);
      assert.ok(bytes.length > 1048576, `${bytes.length} bytes`);
      await dropBatch(dirs.inbox, bytes, { name });
      const receipt = await receiptOf(t.dataDir, name, 60_000);
      assert.equal(receipt.root.CGS, String(recs.length));
      const row = (await fileRow(name))[0];
      const options = YAML.parse(fs.readFileSync(path.join(ADAPTERS_DIR, 'tax-bureau', 'adapter.yaml'), 'utf8')).transport.options;
      const format: BatchFileFormat = { root: options.batch.element, record: options.batch.record, countAttribute: options.batch.countAttribute, encodings: options.encodings, fallbackEncoding: options.fallbackEncoding, maxBytes: options.maxFileBytes };
      const profile = t.hub.context.intake.profileOf('tax-bureau');
      const expected: CaseEvent[] = [];
      await readBatchFile(bytes, format, {
        onRecords: async (batch) => {
          for (const { index, record } of batch) {
            // Every 97th record and the last: a sample across the file's chunks.
            if (index % 97 !== 0 && index !== recs.length - 1) continue;
            const r = await profile.mapRecord(record, { rawMessageId: row.id, recordIndex: index, batch: row.batch });
            assert.ok(r.ok);
            expected.push(r.event);
          }
        },
      });
      assert.ok(expected.length > 40);
      for (const event of expected) {
        const code: string = (await lookup(event.data.localCaseId)).body.supervisionCode;
        const stored = (await t.hub.context.store.cases.get(code))!.timeline.find((s) => s.event.id === event.id);
        assert.ok(stored, `event ${event.id} of record ${event.data.provenance.record} stored`);
        assert.deepEqual(stored.event, { ...event, subject: code });
      }
    });

    it('leaves a file without its marker alone for as long as the marker is absent, and takes it within seconds of the marker', async () => {
      const name = fileName();
      const recs = records(3, `${store}-late-marker`);
      const file = await dropBatch(dirs.inbox, batchOf(recs), { name, omitMarker: true });
      // Ten polls without the marker: the file is neither read, moved nor claimed.
      await new Promise((r) => setTimeout(r, 2000));
      assert.ok(fs.existsSync(file));
      assert.deepEqual(await fileRow(name), []);
      assert.equal(fs.existsSync(receiptFile(t.dataDir, name)), false);
      assert.equal((await lookup(recs[0].SWSXBH)).status, 404);

      const markedAt = Date.now();
      fs.writeFileSync(file + '.ok', '');
      const receipt = await receiptOf(t.dataDir, name, 10_000);
      assert.ok(Date.now() - markedAt < 5000, `receipt ${Date.now() - markedAt} ms after the marker`);
      assert.equal(receipt.root.CGS, '3');
      assert.equal((await caseOf(recs[0].SWSXBH)).references[0].localId, recs[0].SWSXBH);
      await waitFor('the inbox emptied', () => !fs.existsSync(file) && !fs.existsSync(file + '.ok'));
    });

    it('moves a marker whose file has been gone for a day out of the inbox, and leaves a recent one alone', async () => {
      const old = `${fileName()}.ok`;
      const recent = `${fileName()}.ok`;
      fs.writeFileSync(path.join(dirs.inbox, old), '');
      fs.writeFileSync(path.join(dirs.inbox, recent), '');
      const dayAgo = new Date(Date.now() - 25 * 3600_000);
      fs.utimesSync(path.join(dirs.inbox, old), dayAgo, dayAgo);
      await waitFor('the old marker moved', () => !fs.existsSync(path.join(dirs.inbox, old)), 10_000);
      const orphaned = path.join(dirs.archive, 'orphaned');
      const kept = fs.readdirSync(orphaned).flatMap((day) => fs.readdirSync(path.join(orphaned, day)));
      assert.ok(kept.some((f) => f.endsWith(`--${old}`)), `archived: ${kept.join(', ')}`);
      assert.ok(fs.existsSync(path.join(dirs.inbox, recent)), 'a marker younger than a day stays');
      const m = await (await fetch(`${t.url}/metrics`)).text();
      assert.match(m, /hub_files_total\{adapter="tax-bureau",result="orphaned-marker"\} 1/);
      fs.rmSync(path.join(dirs.inbox, recent));
    });

    it('refuses a truncated file, a JLS off by one and a billion-laughs DOCTYPE as a whole: nothing applied, a <CW> receipt, archived as failed; the hub keeps serving', async () => {
      const before = await eventCount();
      const truncatedRecs = records(20, `${store}-truncated`);
      const whole = batchOf(truncatedRecs);
      // Cut inside a record, as an export interrupted mid-write leaves it.
      const truncated = whole.subarray(0, whole.lastIndexOf('</NSRMC>', Math.floor(whole.length * 0.7)));
      const offRecs = records(4, `${store}-jls`);
      const offByOne = batchOf(offRecs, { jls: 5 });
      const laughs = Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE SWSXBatch [\n  <!ENTITY lol "lol">\n' +
        Array.from({ length: 9 }, (_, i) => `  <!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">\n`).join('') +
        ']>\n<SWSXBatch xmlns="urn:gov:chinatax:swsx:v2" PCH="20261125999999001" SWJGDM="11301000000" SCSJ="20261125100000" JLS="1">\n' +
        `  <JL><SWSXBH>SX13010020261125999999</SWSXBH><SXDM>SW-0001</SXDM><SXMC>&lol9;</SXMC><NSRSBH>91130100MA0CK3L52K</NSRSBH><NSRMC>石家庄恒泰商贸有限公司</NSRMC><BLZT>01</BLZT><ZTSJ>20261125090000</ZTSJ><JBRY></JBRY><JGM></JGM><LXDH></LXDH></JL>\n` +
        '</SWSXBatch>\n');
      const cases: [string, Buffer, RegExp, string][] = [
        [fileName(), truncated, /不是格式正确的 XML/, '(read)'],
        [fileName(), offByOne, /记录数与 JLS 不符/, '(read)'],
        [fileName(), laughs, /DOCTYPE/, ''],
      ];
      for (const [name, bytes] of cases) await dropBatch(dirs.inbox, bytes, { name });
      for (const [name, bytes, reason, pch] of cases) {
        const r = (await receiptOf(t.dataDir, name)).root;
        assert.equal(r.CGS, '0', name);
        assert.equal(r.SBS, '0', name);
        assert.equal(r.JG, undefined, name);
        assert.match(String(r.CW), reason, name);
        const declared = /PCH="(\d+)"/.exec(bytes.toString('latin1'))![1];
        assert.equal(r.PCH, pch === '(read)' ? declared : '', name);
      }
      assert.equal(await eventCount(), before);
      for (const rec of [...truncatedRecs.slice(0, 5), ...offRecs]) assert.equal((await lookup(rec.SWSXBH)).status, 404);
      assert.equal((await lookup('SX13010020261125999999')).status, 404);
      await waitFor('the refused files archived', async () => {
        const failed = filesUnder(path.join(dirs.archive, 'failed'));
        return cases.every(([name]) => failed.some((f) => f.endsWith(`--${name}`)));
      });
      for (const [name] of cases) assert.equal(fs.existsSync(path.join(dirs.inbox, name)), false);

      // Still serving: health, the API, and the next good file.
      assert.equal((await getJson(`${t.url}/health/live`)).status, 200);
      assert.equal((await getJson(`${t.url}/health/ready`)).status, 200);
      const good = fileName();
      const goodRecs = records(2, `${store}-after-bad`);
      await dropBatch(dirs.inbox, batchOf(goodRecs, { encoding: 'UTF-8' }), { name: good });
      assert.equal((await receiptOf(t.dataDir, good)).root.CGS, '2');
      await waitFor('the refused files counted', async () => metricValue(await metricsText(t.url), 'hub_files_total', 'adapter="tax-bureau",result="failed"') === 3);

      // An operator finds each refused file, with the reason its receipt gave, one page at a time.
      const seen: any[] = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: any } = await getJson(`${t.url}/api/v1/files?adapter=tax-bureau&outcome=failed&limit=2${cursor ? `&cursor=${cursor}` : ''}`, OPERATOR);
        assert.equal(page.status, 200);
        seen.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      for (const [name, , reason] of cases) {
        const f = seen.find((x) => x.name === name);
        assert.ok(f, `${name} listed`);
        assert.equal(f.outcome, 'failed');
        assert.equal(f.state, 'archived');
        assert.match(f.error, reason);
        assert.equal(f.accepted + f.rejected, 0);
      }
      assert.equal(seen.length, 3, 'failed files only');
      const all = await getJson(`${t.url}/api/v1/files?adapter=tax-bureau&limit=500`, OPERATOR);
      const goodRow = all.body.items.find((x: any) => x.name === good);
      assert.deepEqual([goodRow.outcome, goodRow.records, goodRow.accepted, goodRow.error], ['processed', 2, 2, null]);
      // Times the hub produces are ISO 8601 in Beijing time.
      for (const t of [goodRow.claimedAt, goodRow.finishedAt]) assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+08:00$/);
      assert.equal((await getJson(`${t.url}/api/v1/files`)).status, 401);
      assert.equal((await getJson(`${t.url}/api/v1/files`, SUPERVISOR)).status, 403);
      assert.equal((await getJson(`${t.url}/api/v1/files?cursor=not-a-cursor`, OPERATOR)).status, 400);
    });

    it('answers every file the bureau\'s simulator drops (GB18030 and UTF-8, late markers, re-sends, bad records) and keeps the inbox clean', async () => {
      const before = new Set(fs.readdirSync(dirs.receipts));
      const dropped: string[] = [];
      const logs = new Writable({
        write(chunk, _enc, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) {
            const entry = JSON.parse(line);
            if (entry.msg === 'batch file dropped') dropped.push(entry.file);
          }
          done();
        },
      });
      const simulator = new TaxBureauDropSimulator({
        inboxDir: dirs.inbox, intervalMs: 150, seed: `${store}-simulator`, logger: pino({ level: 'debug' }, logs),
        resendChance: 0.25, badRecordChance: 0.3, lateMarkerChance: 0.3, lateMarkerMs: [300, 1500],
      });
      simulator.start();
      await new Promise((r) => setTimeout(r, 4000));
      await simulator.stop();
      assert.ok(dropped.length >= 5, `${dropped.length} files dropped`);
      for (const name of dropped) {
        const r = (await receiptOf(t.dataDir, name)).root;
        assert.equal(r.CW, undefined, name);
        const archived = await waitFor(`${name} archived`, () => archivedCopy(dirs.archive, name));
        const jls = Number(/JLS="(\d+)"/.exec(fs.readFileSync(archived).subarray(0, 300).toString('latin1'))![1]);
        assert.equal(r.JG!.length, jls, name);
        assert.equal(Number(r.CGS) + Number(r.SBS), jls, name);
      }
      const fresh = fs.readdirSync(dirs.receipts).filter((f) => !before.has(f));
      assert.equal(fresh.length, dropped.length * 2, 'one receipt and one marker per file');
      await waitFor('the inbox emptied', () => fs.readdirSync(dirs.inbox).length === 0);
    });

    it('refuses a bad record that appears twice in a file twice in its receipt, keeping one dead letter for it', async () => {
      const recs = records(3, `${store}-bad-twice`);
      const bad = withBadTaxpayerId(recs[1]);
      const name = fileName();
      await dropBatch(dirs.inbox, batchOf([recs[0], bad, recs[2], bad]), { name });
      const r = (await receiptOf(t.dataDir, name)).root;
      assert.deepEqual([r.CGS, r.SBS], ['2', '2']);
      assert.deepEqual(r.JG!.map((j) => j.ZT), ['1', '0', '1', '0']);
      const letters = await getJson(`${t.url}/api/v1/dead-letters?adapter=tax-bureau&limit=500`, OPERATOR);
      assert.equal(letters.body.items.filter((d: { value: string | null }) => d.value === bad.NSRSBH).length, 1);
    });

    it('refuses a record whose supervision code contradicts its case\'s, and keeps the whole record in its dead letter', async () => {
      const [first] = records(1, `${store}-code-conflict`);
      const name1 = fileName();
      await dropBatch(dirs.inbox, batchOf([{ ...first, JGM: '' }]), { name: name1 });
      const code = (await receiptOf(t.dataDir, name1)).root.JG![0].JGM;
      assert.match(code, /^\d{14}[0-9A-Z]{10}$/);
      // The same case again, later, carrying another valid code than the one the hub gave it.
      const other = issueSupervisionCode(code.slice(0, 6), new Date('2026-11-20T10:00:00+08:00'));
      const later: TaxRecord = { ...first, BLZT: '02', ZTSJ: anHourLater(first.ZTSJ), JGM: other };
      const name2 = fileName();
      await dropBatch(dirs.inbox, batchOf([later]), { name: name2 });
      const r = (await receiptOf(t.dataDir, name2)).root;
      assert.deepEqual([r.CGS, r.SBS, r.JG![0].ZT], ['0', '1', '0']);
      assert.match(r.JG![0].YY, new RegExp(code));
      const rows = await db().query<{ id: string; rule: string }>(
        'SELECT id, rule FROM dead_letters WHERE raw_message_id = $1', [(await fileRow(name2))[0].id]);
      assert.equal(rows.rows.length, 1);
      assert.equal(rows.rows[0].rule, 'conflict');
      // Stored sealed (it holds the applicant): opened by the store, it is the whole record.
      assert.deepEqual((await t.hub.context.store.deadLetters.get(rows.rows[0].id))!.record, later);
    });

    it('answers a file once when the hub stopped between publishing its receipt and recording it: a receipt the bureau took is not written again, a staged one is published', async () => {
      const name = fileName();
      await dropBatch(dirs.inbox, batchOf(records(3, 'republish')), { name });
      const receipt = await receiptOf(t.dataDir, name);
      const archived = async () => (await fileRow(name))[0]?.archived_at;
      await waitFor(`${name} archived`, archived, 30_000, 100);
      const file = receiptFile(t.dataDir, name);
      // What the store holds after a stop just after the receipt's marker: applied, receipt staged, not recorded as answered.
      const stopBeforeRecorded = () => db().query("UPDATE file_drops SET state = 'applied', receipted_at = NULL, archived_at = NULL WHERE name = $1", [name]);

      // The bureau took the receipt and its marker before the hub came back.
      fs.rmSync(file);
      fs.rmSync(`${file}.ok`);
      await stopBeforeRecorded();
      await waitFor(`${name} archived again`, archived, 30_000, 100);
      assert.equal(fs.existsSync(file), false, 'a receipt the bureau took must not come back');
      assert.equal(fs.existsSync(`${file}.ok`), false);

      // Stopped after the receipt was staged, before it was renamed: it is published, with its marker, once.
      const { id } = (await fileRow(name))[0];
      const { temp } = receiptPaths(TAX_RECEIPT, dirs.receipts, name, id);
      fs.writeFileSync(temp, receipt.text);
      await stopBeforeRecorded();
      await waitFor(`${name} archived a third time`, archived, 30_000, 100);
      assert.equal(fs.readFileSync(file, 'utf8'), receipt.text);
      assert.ok(fs.existsSync(`${file}.ok`));
      assert.equal(fs.existsSync(temp), false);
    });

    it('applies the same content dropped twice under two names once, and answers both with identical receipts', async () => {
      const recs = records(6, `${store}-resend`);
      recs[2] = withBadTaxpayerId(recs[2]);
      const bytes = batchOf(recs);
      const [first, second] = [fileName(), fileName()];
      const before = await eventCount();
      const copiesBefore = metricValue(await metricsText(t.url), 'hub_files_total', 'adapter="tax-bureau",result="duplicate"');
      await Promise.all([dropBatch(dirs.inbox, bytes, { name: first }), dropBatch(dirs.inbox, bytes, { name: second })]);
      const a = await receiptOf(t.dataDir, first);
      const b = await receiptOf(t.dataDir, second);
      assert.equal(a.root.CGS, '5');
      assert.equal(a.root.SBS, '1');
      assert.equal(b.text, a.text);
      assert.equal(await eventCount(), before + 5);
      const rows = [...(await fileRow(first)), ...(await fileRow(second))];
      assert.equal(rows.filter((r) => r.duplicate_of === null).length, 1);
      assert.equal(rows.filter((r) => r.duplicate_of !== null).length, 1);

      // Sent again later under the first name: the same receipt once more, still nothing applied.
      fs.rmSync(receiptFile(t.dataDir, first) + '.ok');
      fs.rmSync(receiptFile(t.dataDir, first));
      await dropBatch(dirs.inbox, bytes, { name: first });
      const again = await receiptOf(t.dataDir, first);
      assert.equal(again.text, a.text);
      assert.equal(await eventCount(), before + 5);
      await waitFor('the copies archived', () => filesUnder(path.join(dirs.archive, 'duplicate')).filter((f) => f.endsWith(`--${first}`) || f.endsWith(`--${second}`)).length === 2);
      await waitFor('both copies counted', async () => metricValue(await metricsText(t.url), 'hub_files_total', 'adapter="tax-bureau",result="duplicate"') === copiesBefore + 2);
    });
  });
}

for (const store of STORES) {
  describe(`tax bureau file drop: a hub killed while it applies a large file (${store} store)`, function () {
    this.timeout(600_000);
    let hub: HubProcess | null = null;
    let dropDb: (() => Promise<void>) | null = null;
    after(async () => { await hub?.stop('SIGKILL'); await dropDb?.(); });

    it('applies every record of a 50,000-record file exactly once after a SIGKILL mid-apply and a restart, with one receipt', async () => {
      const dataDir = testDataDir(`tax-kill-${store}`, storeFor(store));
      const db = store === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? () => db.drop() : null;
      // Small chunks: many commits, so that the kill falls between two of them.
      const env: Record<string, string> = { HUB_DATA_DIR: dataDir, HUB_CONFIG: writeConfig(dataDir, { pollIntervalMs: 200, chunkRecords: 1000 }), ...(db ? { HUB_STORE: db.url } : {}) };
      const source = path.join(dataDir, 'month-end.xml');
      await writeLargeBatchFile(source, { records: 50_000, encoding: 'GB18030', seed: `kill-${store}` });
      const name = fileName();
      const { inbox, receipts } = folders(dataDir);

      hub = await spawnHub(env);
      fs.copyFileSync(source, path.join(inbox, name));
      fs.writeFileSync(path.join(inbox, `${name}.ok`), '');
      const url = hub.url;
      await waitFor('the first chunks applied', async () => metricValue(await metricsText(url), 'hub_inbound_messages_total', 'adapter="tax-bureau",result="accepted"') >= 2000, 180_000, 50);
      assert.equal(fs.existsSync(receiptFile(dataDir, name)), false, 'killed before the receipt');
      await hub.stop('SIGKILL');

      hub = await spawnHub(env);
      const receipt = await receiptOf(dataDir, name, 480_000);
      assert.equal(receipt.root.CGS, '50000');
      assert.equal(receipt.root.SBS, '0');
      assert.equal(receipt.root.JG!.length, 50_000);
      assert.ok(receipt.root.JG!.every((j) => j.ZT === '1' && /^\d{14}[0-9A-Z]{10}$/.test(j.JGM)));
      await waitFor('the file archived', () => filesUnder(path.join(folders(dataDir).archive, 'processed')).some((f) => f.endsWith(`--${name}`)));
      // The second run resumed after the last chunk the first one committed.
      assert.match(hub.output(), /"resumedAt":[1-9]\d*/);
      await hub.stop('SIGTERM');
      hub = null;

      const s = await openStore({ store: db ? db.url : 'embedded', dataDir, region: '130100' });
      try {
        const rows = (await s.driver.query<any>('SELECT id, state, records, records_done, accepted, duplicates, rejected FROM file_drops WHERE name = $1', [name])).rows;
        assert.equal(rows.length, 1);
        assert.deepEqual({ ...rows[0], id: undefined }, { id: undefined, state: 'archived', records: 50_000, records_done: 50_000, accepted: 50_000, duplicates: 0, rejected: 0 });
        const events = await s.driver.query<{ n: string; d: string }>('SELECT count(*)::text AS n, count(DISTINCT body->\'data\'->\'provenance\'->>\'record\')::text AS d FROM events WHERE raw_message_id = $1', [rows[0].id]);
        assert.deepEqual(events.rows[0], { n: '50000', d: '50000' });
      } finally {
        await s.close();
      }
      assert.deepEqual(fs.readdirSync(receipts).sort(), [path.basename(receiptFile(dataDir, name)), `${path.basename(receiptFile(dataDir, name))}.ok`]);
    });
  });
}

describe('tax bureau file drop: the hub\'s memory does not grow with the file', function () {
  this.timeout(600_000);
  let hub: HubProcess | null = null;
  let dropDb: (() => Promise<void>) | null = null;
  after(async () => { await hub?.stop('SIGKILL'); await dropDb?.(); });

  /** Peak resident memory of the process above `base` while `run` runs (sampled every 20 ms). */
  async function peakAbove(pid: number, run: () => Promise<void>): Promise<number> {
    const rss = () => rssBytes(pid);
    const base = rss();
    let peak = base;
    const timer = setInterval(() => { peak = Math.max(peak, rss()); }, 20);
    try {
      await run();
    } finally {
      clearInterval(timer);
    }
    return Math.max(0, peak - base);
  }

  it('a file four times larger raises the hub process\'s peak memory no more than a small one (PostgreSQL store: the hub\'s own memory only)', async () => {
    const dataDir = testDataDir('tax-memory', { store: 'none' });
    const db = await createTestDatabase();
    dropDb = () => db.drop();
    // Started as `make run` starts the hub and the README advises for every node: the heap capped
    // (what is measured is then the memory the hub holds, not how long V8 lets garbage lie, which
    // varies from run to run) and garbage collected on the threads that make it.
    const node = makeRunNode();
    hub = await spawnHub({ HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_CONFIG: writeConfig(dataDir, { pollIntervalMs: 100 }), ...node.env }, [], node.flags);
    const { inbox } = folders(dataDir);
    const url = hub.url;
    const run = async (records: number, seed: string) => {
      const file = path.join(dataDir, `${seed}.xml`);
      const { bytes } = await writeLargeBatchFile(file, { records, encoding: 'GB18030', seed });
      const name = fileName();
      // The hub keeps answering HTTP while it works on the file.
      let slowest = 0;
      const probe = setInterval(() => {
        const t0 = Date.now();
        fetch(`${url}/health/live`).then(() => { slowest = Math.max(slowest, Date.now() - t0); }, () => { slowest = Infinity; });
      }, 200);
      const grew = await peakAbove(hub!.proc.pid!, async () => {
        fs.renameSync(file, path.join(inbox, name));
        fs.writeFileSync(path.join(inbox, `${name}.ok`), '');
        const r = await receiptOf(dataDir, name, 480_000);
        assert.equal(r.root.CGS, String(records));
      }).finally(() => clearInterval(probe));
      return { bytes, grew, slowest };
    };
    await run(2000, 'memory-warm-up');
    const small = await run(15_000, 'memory-small');
    const large = await run(60_000, 'memory-large');
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const report = `small file ${mb(small.bytes)}: +${mb(small.grew)}; large file ${mb(large.bytes)}: +${mb(large.grew)}; slowest /health/live ${large.slowest} ms`;
    // Chunks, buffers and the worker are the same size for both files. Memory that grew with the file (its
    // mapped records kept, say) would add far more than 48 MB for the larger one.
    assert.ok(large.grew < small.grew + 48 * 1048576, report);
    assert.ok(large.slowest < 3000, report);
    console.log(`      ${report}`);
  });
});

describe('tax bureau file drop: two hub nodes sharing one PostgreSQL store and one drop folder', function () {
  this.timeout(180_000);
  const hubs: RunningHub[] = [];
  let dropDb: (() => Promise<void>) | null = null;
  after(async () => {
    for (const h of hubs) await h.stop();
    await dropDb?.();
  });

  it('never lets both take the same file: one node watches at a time, each file is applied once and answered once', async () => {
    const dataDir = testDataDir('tax-two-nodes', { store: 'none' });
    const db = await createTestDatabase();
    dropDb = () => db.drop();
    const env = { HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_LOG_LEVEL: 'silent', HUB_CONFIG: writeConfig(dataDir, { pollIntervalMs: 50 }) };
    for (let i = 0; i < 2; i++) {
      const config = loadConfig(env);
      hubs.push(await startHub(config, createLogger(config.logLevel)));
    }
    const { inbox } = folders(dataDir);
    const names = Array.from({ length: 16 }, () => fileName());
    const per = 40;
    await Promise.all(names.map((name, i) => dropBatch(inbox, batchOf(records(per, `two-nodes-${i}`)), { name })));
    for (const name of names) assert.equal((await receiptOf(dataDir, name)).root.CGS, String(per));
    const driver = hubs[0].context.store.driver;
    const rows = (await driver.query<any>('SELECT name, owner, duplicates, accepted FROM file_drops')).rows;
    assert.deepEqual(rows.map((r) => r.name).sort(), [...names].sort());
    assert.ok(rows.every((r) => r.duplicates === 0 && r.accepted === per));
    const events = await driver.query<{ n: string }>('SELECT count(*)::text AS n FROM events');
    assert.equal(Number(events.rows[0].n), names.length * per);
    // One node watches the folder at a time (the watch lease): the holder took every file, and the
    // other, though it saw the same folder, took none.
    assert.equal(new Set(rows.map((r) => r.owner)).size, 1);
    const holder = await driver.query<{ owner: string }>("SELECT owner FROM job_leases WHERE name = 'watch:tax-bureau'");
    assert.equal(rows[0].owner, holder.rows[0]?.owner, 'the files are owned by the watch lease holder');
  });
});

describe('tax bureau file drop: archive retention (embedded store)', function () {
  this.timeout(120_000);
  let t: TestHub;
  after(async () => { await t?.stop(); });

  it('deletes archived files and their per-record results after the retention period; the same content later is taken as new and applies nothing twice', async () => {
    t = await startTestHub('embedded', { HUB_CONFIG: writeConfig(testDataDir('tax-retention-config', { store: 'none' }), { pollIntervalMs: 100, archive: { retentionDays: 0 } }) });
    const { inbox, archive } = folders(t.dataDir);
    const bytes = batchOf(records(5, 'retention'));
    const name = fileName();
    await dropBatch(inbox, bytes, { name });
    const first = await receiptOf(t.dataDir, name);
    const db = t.hub.context.store.driver;
    // The sweep runs a few seconds after start, then hourly.
    await waitFor('the archived copy deleted', async () => (await db.query<any>('SELECT purged_at FROM file_drops WHERE name = $1', [name])).rows[0]?.purged_at, 30_000, 200);
    assert.equal(archivedCopy(archive, name), null);
    assert.equal((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM file_drop_results')).rows[0].n, '0');

    const events = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM events')).rows[0].n);
    fs.rmSync(receiptFile(t.dataDir, name) + '.ok');
    await dropBatch(inbox, bytes, { name });
    const again = await receiptOf(t.dataDir, name);
    assert.equal(Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM events')).rows[0].n), events);
    // Its records are duplicates by event id: applied (ZT=1) to the same cases.
    assert.deepEqual(again.root.JG, first.root.JG);
  });
});

describe('file drop without markers or receipts: another department is a folder, not new TypeScript', function () {
  this.timeout(120_000);
  let t: TestHub;
  after(async () => { await t?.stop(); });

  it('takes a file once it has not changed for minFileAgeSeconds, applies it, and writes no receipt when none is described', async () => {
    const dir = testDataDir('file-drop-no-marker');
    // The tax bureau's folder with another definition: no .ok markers, no receipts, UTF-8 only.
    const folder = path.join(dir, 'tax-bureau');
    fs.mkdirSync(folder);
    fs.copyFileSync(path.join(ADAPTERS_DIR, 'tax-bureau', 'mapping.yaml'), path.join(folder, 'mapping.yaml'));
    const def = YAML.parse(fs.readFileSync(path.join(ADAPTERS_DIR, 'tax-bureau', 'adapter.yaml'), 'utf8'));
    const o = def.transport.options;
    delete o.markerSuffix;
    delete o.receipt;
    Object.assign(o, { minFileAgeSeconds: 1, pollIntervalMs: 100, encodings: ['UTF-8'], pattern: '^batch-\\d+\\.xml$' });
    fs.writeFileSync(path.join(folder, 'adapter.yaml'), YAML.stringify(def));
    const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
    config.adapters = [{ id: 'tax-bureau', dir: folder }];
    fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify(config));
    t = await startTestHub('embedded', { HUB_CONFIG: path.join(dir, 'hub.yaml') });
    const { inbox, receipts } = folders(t.dataDir);

    const recs = records(3, 'no-marker');
    const file = path.join(inbox, 'batch-1.xml');
    const written = Date.now();
    fs.writeFileSync(file, batchOf(recs, { encoding: 'UTF-8' }));
    fs.writeFileSync(path.join(inbox, 'notes.txt'), 'not a batch file: left alone');
    const db = t.hub.context.store.driver;
    const row = await waitFor('the file applied', async () => (await db.query<any>("SELECT state, claimed_at FROM file_drops WHERE name = 'batch-1.xml' AND state = 'archived'")).rows[0], 30_000);
    assert.ok(new Date(row.claimed_at).getTime() - written >= 900, 'taken only once a second old');
    assert.equal((await getJson(`${t.url}/api/v1/cases/lookup?system=tax-bureau&localId=${recs[0].SWSXBH}`, SUPERVISOR)).status, 200);
    assert.deepEqual(fs.readdirSync(inbox), ['notes.txt']);
    assert.deepEqual(fs.existsSync(receipts) ? fs.readdirSync(receipts) : [], []);
  });
});
