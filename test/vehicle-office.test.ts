import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import YAML from 'yaml';
import * as iconv from 'iconv-lite';
import { XMLParser } from 'fast-xml-parser';
import {
  buildReportEnvelope, pushReport, startVehicleQueryService, generateChanges, VehicleOfficePushSimulator,
  VehicleReport, VehicleReportStream, VEHICLE_HALLS, REPORT_SOAP_ACTION, VehicleQueryService,
} from '../infra/simulators/vehicle-office';
import { httpPost } from '../infra/simulators/http-post';
import { normaliseCitizenId } from '../core/identifiers/citizen-id';
import { normaliseUscc } from '../core/identifiers/uscc';
import { eventId } from '../adapters/kit/mapping/event-id';
import { PollCursorStore } from '../services/store/poll-cursors';
import { runConformance } from '../adapters/kit/conformance';
import { parseSupervisionCode } from '../core/identifiers/supervision-code';
import { validateCaseView } from '../contracts/validate';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { openStore, defaultKeyFile, Store } from '../services/store/open-store';
import { ROOT, ADAPTERS_DIR } from '../core/kernel/paths';
import { TARGETS, Target, startClusterBehind, clusterReady } from './support/cluster';
import { STORES, StoreKind, testDataDir, spawnHub, HubProcess, SUPERVISOR, OPERATOR, getJson, waitFor, settled } from './support/hub';
import { createTestDatabase } from './support/servers';

const ADAPTER = 'vehicle-office';
const SAMPLES = path.join(ADAPTERS_DIR, ADAPTER, 'samples');
const [HALL_1, HALL_2] = VEHICLE_HALLS;
const POLLER = { username: 'hub-poller', password: 'Poll-demo-2026!' };
const DEPARTMENT = '11130100000400113E';
const sample = (name: string) => fs.readFileSync(path.join(SAMPLES, name));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// A hub of our own: the demo tokens and the vehicle office only, its logs kept for inspection.

interface VehicleHub {
  url: string;
  hub: RunningHub;
  logs: string[];
  dataDir: string;
  storeUrl: string;
  drop: () => Promise<void>;
  /** The data keys' file the hub was started with. */
  keyFile: string;
  /** Stops the hub; the store is dropped unless kept for another hub. */
  stop(opts?: { keep: boolean }): Promise<void>;
}

function writeConfig(dir: string, overrides: Record<string, unknown>): string {
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify({
    region: '130100',
    tokens: [
      { name: 'demo supervisor', token: 'demo-supervisor-token', roles: ['supervisor'] },
      { name: 'demo operator', token: 'demo-operator-token', roles: ['operator'] },
    ],
    adapters: [{ id: ADAPTER, dir: path.join(ROOT, 'adapters', ADAPTER), overrides: { transport: { options: overrides } } }],
    shutdownGraceSeconds: 5,
  }));
  return file;
}

async function startVehicleHub(kind: Target, overrides: Record<string, unknown>, existing?: Pick<VehicleHub, 'dataDir' | 'storeUrl' | 'drop'> & { keyFile?: string }): Promise<VehicleHub> {
  const dataDir = existing?.dataDir ?? testDataDir(`veh-${kind}`);
  const configFile = writeConfig(dataDir, overrides);
  // A cluster: the cases and supervisor nodes as processes of their own, the gateway's node here.
  const behind = !existing && kind === 'cluster' ? await startClusterBehind('gateway', { HUB_CONFIG: configFile, HUB_DATA_DIR: dataDir }) : null;
  const db = existing || behind ? null : kind === 'postgres' ? await createTestDatabase() : null;
  const storeUrl = existing?.storeUrl ?? behind?.env.HUB_STORE ?? (db ? db.url : 'embedded');
  const drop = existing?.drop ?? (async () => { await db?.drop(); await behind?.stop(); });
  // A second node of the same store has the first's data keys, as every node of a hub must.
  const keyFile = existing?.keyFile ?? behind?.env.HUB_DATA_KEY_FILE ?? defaultKeyFile(dataDir);
  const config = loadConfig({ HUB_CONFIG: configFile, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: storeUrl, HUB_LOG_LEVEL: 'info', ...(existing?.keyFile ? { HUB_DATA_KEY_FILE: keyFile } : {}), ...behind?.env });
  const logs: string[] = [];
  let hub: RunningHub;
  try {
    hub = await startHub(config, createLogger('info', { write: (line: string) => { logs.push(line); } }));
    if (behind) await clusterReady(hub.url!, behind).catch(async (err) => { await hub.stop(); throw err; });
  } catch (err) {
    await behind?.stop();
    throw err;
  }
  return {
    url: hub.url!, hub, logs, dataDir, storeUrl, drop, keyFile,
    async stop(opts) {
      await hub.stop();
      if (!opts?.keep) await drop();
    },
  };
}

const NO_POLL = { poll: { enabled: false } };

// ---------------------------------------------------------------------------------------------
// The office's side of a push.

type Answer = { status: number; contentType: string; body: string; fhdm?: number; fhxx?: string; jgm?: string; fault?: { faultcode: string; faultstring: string } };
const answerParser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false });

async function post(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await httpPost(url, body, { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: REPORT_SOAP_ACTION, ...headers });
  const text = r.body.toString('utf8');
  const out: Answer = { status: r.status, contentType: String(r.headers['content-type'] ?? ''), body: text };
  const soapBody = answerParser.parse(text)?.Envelope?.Body;
  const str = (v: unknown) => (v === undefined || v === null || typeof v === 'object' ? '' : String(v));
  if (soapBody?.Fault) out.fault = { faultcode: str(soapBody.Fault.faultcode), faultstring: str(soapBody.Fault.faultstring) };
  const a = soapBody?.ReportCaseStatusResponse;
  if (a) Object.assign(out, { fhdm: Number(a.FHDM), fhxx: str(a.FHXX), jgm: str(a.JGM) });
  return out;
}

let serial = 0;
function report(over: Partial<VehicleReport> = {}): VehicleReport {
  serial++;
  const n = `${Math.floor(Math.random() * 1e5)}`.padStart(5, '0') + String(serial).padStart(4, '0');
  return {
    LSH: `RT${n}`, GLBM: HALL_1.GLBM, SLBH: `13010020261125${n}`, JGM: '', YWLX: 'A', ZT: '0', ZTSJ: '2026-11-25 09:00:00',
    SQR: { XM: '王建国', SFZMMC: 'A', SFZMHM: '130102198503120412', LXDH: '138 3311 0425' }, JBR: '李明', BZ: '', ...over,
  };
}
const envelope = (r: VehicleReport, hall = HALL_1, creds: { username: string; password: string } = hall) =>
  buildReportEnvelope(r, { username: creds.username, password: creds.password, encoding: hall.encoding });
const send = (url: string, r: VehicleReport, hall = HALL_1, creds?: { username: string; password: string }) =>
  post(url, envelope(r, hall, creds), { 'Content-Type': `text/xml; charset=${hall.encoding === 'gbk' ? 'GBK' : 'utf-8'}` });


async function counts(h: VehicleHub) {
  const r = await h.hub.context.store.driver.query<{ e: string; c: string; d: string; i: string }>(
    `SELECT (SELECT count(*) FROM events WHERE adapter = $1)::text AS e, (SELECT count(*) FROM cases)::text AS c,
            (SELECT count(*) FROM dead_letters WHERE adapter = $1)::text AS d, (SELECT count(*) FROM inbox WHERE adapter = $1)::text AS i`, [ADAPTER]);
  return { events: Number(r.rows[0].e), cases: Number(r.rows[0].c), deadLetters: Number(r.rows[0].d), inbox: Number(r.rows[0].i) };
}

async function caseOf(h: VehicleHub, slbh: string) {
  const l = await getJson(`${h.url}/api/v1/cases/lookup?system=${ADAPTER}&localId=${slbh}`, SUPERVISOR);
  assert.equal(l.status, 200, JSON.stringify(l.body));
  const v = await getJson(`${h.url}/api/v1/cases/${l.body.supervisionCode}`, SUPERVISOR);
  assert.equal(v.status, 200);
  return v.body;
}

/** A sample's value in Prometheus text; `labels` as written there, braces included. */
const metric = (text: string, name: string, labels: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(name.length + labels.length + 1)) : 0;
};

function assertFault(a: Answer, faultcode = 'soap:Client') {
  assert.equal(a.status, 500, a.body);
  assert.match(a.contentType, /^text\/xml; charset=utf-8/i);
  assert.ok(a.fault, `a SOAP 1.1 Fault, not: ${a.body.slice(0, 300)}`);
  assert.equal(a.fault.faultcode, faultcode);
  assert.match(a.body, /xmlns:soap="http:\/\/schemas\.xmlsoap\.org\/soap\/envelope\/"/);
  assert.equal(a.fhdm, undefined, 'a Fault, never an FHDM');
}

// ---------------------------------------------------------------------------------------------

describe('vehicle office samples → expected canonical output (conformance)', () => {
  it('maps every sample in adapters/vehicle-office/samples to its .expected.json', async () => {
    const results = await runConformance(path.join(ADAPTERS_DIR, ADAPTER));
    assert.ok(results.length >= 5);
    for (const r of results) assert.ok(r.ok, `${r.sample}: ${r.problems.join('; ')}`);
  });
});

for (const store of TARGETS) {
  describe(`vehicle office SOAP push → case view (${store})`, function () {
    this.timeout(120_000);
    let h: VehicleHub;
    let endpoint: string;

    before(async () => {
      h = await startVehicleHub(store, NO_POLL);
      endpoint = `${h.url}/soap/vehicle-office`;
    });
    after(async () => { await h?.stop(); });

    it('1. answers FHDM 1 to the three samples: 01 and 02 share one JGM, the case shows SUPPLEMENT_REQUESTED with the missing material, 03 (GBK) keeps 阿依古丽·买买提 and the normalised ID', async () => {
      const a1 = await post(endpoint, sample('01-accepted-utf8.xml'));
      const a2 = await post(endpoint, sample('02-supplement-requested.xml'));
      const a3 = await post(endpoint, sample('03-submitted-gbk.xml'), { 'Content-Type': 'text/xml; charset=GBK' });
      for (const a of [a1, a2, a3]) {
        assert.equal(a.status, 200, a.body);
        assert.match(a.contentType, /^text\/xml; charset=utf-8$/i);
        assert.equal(a.fhdm, 1, a.body);
        assert.equal(a.fhxx, '接收成功');
        assert.ok(parseSupervisionCode(a.jgm!).ok, a.jgm);
      }
      assert.equal(a1.jgm, a2.jgm);
      assert.notEqual(a1.jgm, a3.jgm);

      // The supervisor computes the light and the pause from the bus, after the event is applied.
      await settled(h.url);
      const view = await waitFor('the supervisor to stop the clock', async () => {
        const v = await caseOf(h, '1301002026112400123');
        return v.paused === true ? v : null;
      }, 10_000);
      assert.equal(validateCaseView(view), null);
      assert.equal(view.supervisionCode, a1.jgm);
      assert.equal(view.status, 'SUPPLEMENT_REQUESTED');
      assert.equal(view.paused, true, 'the clock stops');
      assert.deepEqual(view.item, { code: '130100-GA-0001', name: '机动车注册登记' });
      assert.deepEqual(view.department, { code: DEPARTMENT, name: '石家庄市公安局交通管理局车辆管理所', hall: { code: '111301000004001219', name: '石家庄市公安局交通管理局车辆管理一所' } });
      assert.deepEqual(view.timeline.map((e: any) => [e.status, e.time, e.sourceCode]), [['ACCEPTED', '2026-11-24T09:31:05+08:00', '1'], ['SUPPLEMENT_REQUESTED', '2026-11-24T14:15:20+08:00', '3']]);
      assert.equal(view.timeline[1].remark, '缺少机动车交通事故责任强制保险凭证');
      assert.deepEqual(view.references, [{ system: ADAPTER, localId: '1301002026112400123' }]);
      assert.equal(view.applicant.idNumber, '1301**********0412', 'masked for the supervisor');

      const gbk = await caseOf(h, '1301002026112400588');
      assert.equal(gbk.supervisionCode, a3.jgm);
      assert.equal(gbk.status, 'SUBMITTED');
      assert.equal(gbk.applicant.name, '阿依古丽·买买提');
      assert.equal(gbk.department.hall.name, '石家庄市公安局交通管理局车辆管理二所');
      const stored = await h.hub.context.store.cases.get(a3.jgm!);
      assert.equal(stored!.projection.applicant.name, '阿依古丽·买买提');
      assert.equal(stored!.projection.applicant.idNumber, '130104199211073527');
      assert.equal(stored!.projection.applicant.mobile, '15931100786');
      // The raw request is kept exactly as sent (GBK bytes), before the answer.
      // (Stored sealed; the inbox opens it.)
      const raw = (await h.hub.context.store.inbox.get(stored!.timeline[0].event.data.provenance.rawMessageId))!;
      assert.ok(raw.body.equals(sample('03-submitted-gbk.xml')));
      assert.equal(raw.contentType, 'text/xml; charset=GBK');
    });

    it('1. decodes GBK named only in the XML declaration, and answers a retried report FHDM 1 with the same JGM, applying it once', async () => {
      const before = await counts(h);
      const gbk = iconv.decode(sample('03-submitted-gbk.xml'), 'gbk').replace('R20261124101002000031', 'R20261124101002000099').replace('1301002026112400588', '1301002026112400599');
      const a = await post(endpoint, iconv.encode(gbk, 'gbk'), { 'Content-Type': 'text/xml' });
      assert.equal(a.fhdm, 1, a.body);
      const stored = await h.hub.context.store.cases.get(a.jgm!);
      assert.equal(stored!.projection.applicant.name, '阿依古丽·买买提');
      assert.equal(stored!.projection.applicant.idNumber, '130104199211073527');

      const again = await post(endpoint, sample('01-accepted-utf8.xml'));
      assert.equal(again.fhdm, 1);
      assert.equal(again.fhxx, '重复报送，此前已接收');
      assert.equal(again.jgm, (await caseOf(h, '1301002026112400123')).supervisionCode);
      const after = await counts(h);
      assert.deepEqual({ events: after.events, cases: after.cases }, { events: before.events + 1, cases: before.cases + 1 });
      assert.equal((await caseOf(h, '1301002026112400123')).timeline.length, 2);
    });

    it('serves the WSDL at ?wsdl with the address the caller used', async () => {
      const r = await fetch(`${endpoint}?wsdl`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/xml/);
      const text = await r.text();
      assert.match(text, new RegExp(`<soap:address location="${h.url.replace(/[.]/g, '\\.')}/soap/vehicle-office"/>`));
      assert.match(text, /<wsdl:operation name="ReportCaseStatus">/);
      const viaName = await new Promise<string>((resolve, reject) => {
        http.get(`${endpoint}?wsdl`, { headers: { Host: 'hub.sjz.example:8443' } }, (res) => {
          let s = '';
          res.on('data', (c) => { s += c; });
          res.on('end', () => resolve(s));
        }).on('error', reject);
      });
      assert.match(viaName, /<soap:address location="http:\/\/hub\.sjz\.example:8443\/soap\/vehicle-office"\/>/);
    });

    it('2. refuses a wrong password, an unknown user and the poller credentials with a soap:Client Fault, and 一所 reporting 二所\'s GLBM with FHDM -1, applying nothing', async () => {
      const before = await counts(h);
      const r = report();
      assertFault(await send(endpoint, r, HALL_1, { username: HALL_1.username, password: 'Veh1-wrong-2026!' }));
      assertFault(await send(endpoint, r, HALL_1, { username: 'veh-hall-9', password: 'Veh9-demo-2026!' }));
      const poller = await send(endpoint, r, HALL_1, POLLER);
      assertFault(poller);
      assert.match(poller.fault!.faultstring, /认证失败/);
      const noToken = await post(endpoint, Buffer.from(envelope(r).toString('utf8').replace(/<soapenv:Header>[\s\S]*<\/soapenv:Header>/, '')));
      assertFault(noToken);
      assert.match(noToken.fault!.faultstring, /认证失败/);
      // Nothing stored as applied: no raw message kept, no event, no dead letter.
      assert.deepEqual(await counts(h), before);

      const foreign = report({ GLBM: HALL_2.GLBM });
      const scope = await send(endpoint, foreign, HALL_1);
      assert.equal(scope.status, 200);
      assert.equal(scope.fhdm, -1);
      assert.match(scope.fhxx!, /^管理部门不属于报送单位：veh-hall-1 只能报送 130100000401 的业务/);
      assert.equal(scope.jgm, '');
      const after = await counts(h);
      assert.deepEqual({ events: after.events, cases: after.cases, deadLetters: after.deadLetters }, { events: before.events, cases: before.cases, deadLetters: before.deadLetters }, 'a scope refusal is not dead-lettered, so no replay can apply it');
      assert.equal((await getJson(`${h.url}/api/v1/cases/lookup?system=${ADAPTER}&localId=${foreign.SLBH}`, SUPERVISOR)).status, 404);
      // The same report from its own hall is taken.
      assert.equal((await send(endpoint, foreign, HALL_2)).fhdm, 1);
    });

    it('3. refuses not-XML, not-SOAP, SOAP 1.2, a DOCTYPE with entities (billion laughs), mislabelled GBK, a 2 MB body and elements the schema does not allow with a soap:Client Fault (SOAP 1.2: VersionMismatch); nothing applied; the hub stays responsive', async () => {
      const before = await counts(h);
      const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
        Array.from({ length: 8 }, (_, i) => `<!ENTITY lol${i + 2} "${`&lol${i + 1};`.repeat(10)}">`).join('') + ']>' +
        envelope(report()).toString('utf8').replace(/^<\?xml[^>]*>\n/, '').replace('<veh:BZ></veh:BZ>', '<veh:BZ>&lol9;</veh:BZ>');
      const cases: [string, Buffer, Record<string, string>, RegExp][] = [
        // Credentials are read only from a well-formed envelope: until they are, every refusal is the
        // same authentication Fault, with no word of the parser (the log keeps the reason).
        ['not XML', Buffer.from('LSH=R1&GLBM=130100000401'), {}, /认证失败/],
        ['JSON', Buffer.from(JSON.stringify(report())), { 'Content-Type': 'application/json' }, /认证失败/],
        ['not SOAP', Buffer.from(`<ReportCaseStatusRequest xmlns="urn:gov:sjz:veh:exchange:v1"><LSH>1</LSH></ReportCaseStatusRequest>`), {}, /认证失败/],
        ['SOAP 1.2', Buffer.from(envelope(report()).toString('utf8').replace('http://schemas.xmlsoap.org/soap/envelope/', 'http://www.w3.org/2003/05/soap-envelope')), {}, /SOAP 1\.1/],
        ['another operation', Buffer.from(envelope(report()).toString('utf8').replace(/ReportCaseStatusRequest/g, 'QueryChangedCasesRequest')), {}, /QueryChangedCasesRequest/],
        ['billion laughs', Buffer.from(laughs), {}, /认证失败/],
        ['external entity', Buffer.from('<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>'), {}, /认证失败/],
        ['GBK labelled UTF-8', iconv.encode(envelope(report()).toString('utf8'), 'gbk'), { 'Content-Type': 'text/xml; charset=utf-8' }, /认证失败/],
        ['a charset not accepted', envelope(report()), { 'Content-Type': 'text/xml; charset=ISO-8859-1' }, /认证失败/],
        ['wrong SOAPAction', envelope(report()), { SOAPAction: '"urn:gov:sjz:veh:exchange:v1#QueryChangedCases"' }, /SOAPAction/],
        ['nested 100 deep', Buffer.from(envelope(report()).toString('utf8').replace('<veh:BZ></veh:BZ>', `<veh:BZ>${'<x>'.repeat(100)}${'</x>'.repeat(100)}</veh:BZ>`)), {}, /认证失败/],
        ['2 MB', Buffer.concat([envelope(report()), Buffer.alloc(2 * 1024 * 1024, 0x20)]), {}, /1048576/],
        // Well-formed, signed, but not what the WSDL's schema allows.
        ['ZT sent twice', Buffer.from(envelope(report()).toString('utf8').replace(/(<veh:ZT>[^<]*<\/veh:ZT>)/, '$1$1')), {}, /ZT 重复 2 次/],
        ['an element the schema lacks', Buffer.from(envelope(report()).toString('utf8').replace('<veh:BZ>', '<veh:CLPP>解放</veh:CLPP><veh:BZ>')), {}, /未知元素 CLPP/],
      ];
      for (const [what, body, headers, reason] of cases) {
        const a = await post(endpoint, body, headers);
        // SOAP 1.1 section 4.4.1: an envelope of another version is a VersionMismatch.
        assertFault(a, what === 'SOAP 1.2' ? 'soap:VersionMismatch' : 'soap:Client');
        assert.match(a.fault!.faultstring, reason, what);
      }
      // A 2 MB body sent in chunks, without Content-Length, is cut off at the limit too.
      const chunked = await new Promise<Answer>((resolve, reject) => {
        const req = http.request(endpoint, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Transfer-Encoding': 'chunked' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8'), fault: /<faultcode>soap:Client<\/faultcode>/.test(Buffer.concat(chunks).toString()) ? { faultcode: 'soap:Client', faultstring: '' } : undefined }));
        });
        req.on('error', reject);
        for (let i = 0; i < 32; i++) req.write(Buffer.alloc(64 * 1024, 0x20));
        req.end();
      });
      assertFault(chunked);
      assert.deepEqual(await counts(h), before, 'nothing stored, nothing applied');

      assert.equal((await getJson(`${h.url}/health/live`)).status, 200);
      const ok = await send(endpoint, report());
      assert.equal(ok.fhdm, 1, 'still taking reports');
      const m = await fetch(`${h.url}/metrics`).then((r) => r.text());
      assert.ok(metric(m, 'hub_inbound_messages_total', '{adapter="vehicle-office",result="rejected"}') >= cases.length + 1);
      const refusals = h.logs.filter((l) => l.includes('"msg":"SOAP request refused"'));
      assert.ok(refusals.length >= cases.length + 1);
      for (const rule of ['not-xml', 'not-soap', 'soap-version', 'operation', 'doctype', 'encoding', 'charset', 'soap-action', 'too-deep', 'too-large', 'schema']) {
        assert.ok(refusals.some((l) => l.includes(`"rule":"${rule}"`)), `a log line for ${rule}`);
      }
    });

    it('4. answers FHDM -1 with a reason to an unknown ZT, YWLX or SFZMMC and to a bad ID check digit, keeping each as a dead letter', async () => {
      const before = await counts(h);
      const bad: [Partial<VehicleReport>, string, RegExp][] = [
        [{ ZT: 'Q' }, 'ZT', /^流程状态未知: Q/],
        [{ YWLX: 'Z9' }, 'YWLX', /^业务类型未知: Z9/],
        [{ SQR: { XM: '王建国', SFZMMC: 'C', SFZMHM: '130102198503120412' } }, 'SQR.SFZMMC', /^身份证明名称未知: C/],
        [{ SQR: { XM: '王建国', SFZMMC: 'A', SFZMHM: '130102198503120413' } }, 'SQR.SFZMHM', /^身份证明号码校验位错误/],
        [{ SQR: { XM: '石家庄恒泰商贸有限公司', SFZMMC: 'E', SFZMHM: '91130100MA0FGH8J4A' } }, 'SQR.SFZMHM', /^身份证明号码校验位错误/],
      ];
      const sent: VehicleReport[] = [];
      for (const [over, field, reason] of bad) {
        const r = report(over);
        sent.push(r);
        const a = await send(endpoint, r, HALL_1);
        assert.equal(a.status, 200);
        assert.equal(a.fhdm, -1, `${field}: ${a.body}`);
        assert.match(a.fhxx!, reason);
        assert.equal(a.jgm, '');
        assert.equal((await getJson(`${h.url}/api/v1/cases/lookup?system=${ADAPTER}&localId=${r.SLBH}`, SUPERVISOR)).status, 404);
      }
      const after = await counts(h);
      assert.equal(after.events, before.events);
      assert.equal(after.deadLetters, before.deadLetters + bad.length);
      const dl = await getJson(`${h.url}/api/v1/dead-letters?adapter=${ADAPTER}&limit=100`, OPERATOR);
      assert.equal(dl.status, 200);
      const letters = dl.body.items.slice(-bad.length);
      assert.deepEqual(letters.map((d: any) => d.field).sort(), bad.map(([, field]) => field).sort());
      for (const d of letters) {
        assert.equal(d.adapter, ADAPTER);
        assert.ok(d.rawMessageId && d.reason && d.rule, JSON.stringify(d));
      }
      const text = h.logs.join('');
      assert.doesNotMatch(text, /130102198503120413|13833110425/, 'ID numbers and phones are masked in the logs');
    });

    it('5. applies the same report sent 3 times at once once, answering all three FHDM 1 with one JGM', async () => {
      const r = report({ ZT: '1', ZTSJ: '2026-11-25 10:00:00' });
      const answers = await Promise.all([0, 1, 2].map(() => send(endpoint, r)));
      assert.deepEqual(answers.map((a) => a.fhdm), [1, 1, 1]);
      assert.equal(new Set(answers.map((a) => a.jgm)).size, 1);
      assert.deepEqual(answers.map((a) => a.fhxx).sort(), ['接收成功', '重复报送，此前已接收', '重复报送，此前已接收']);
      const id = eventId(ADAPTER, [r.LSH]);
      const rows = await h.hub.context.store.driver.query<{ n: string }>('SELECT count(*)::text AS n FROM events WHERE id = $1', [id]);
      assert.equal(rows.rows[0].n, '1');
      assert.equal((await caseOf(h, r.SLBH)).timeline.length, 1);
    });

    it('answers FHDM -9 (the office retries) while the store fails, and applies the retry once it is back', async () => {
      const intake = h.hub.context.intake;
      const receive = intake.receive;
      const r = report();
      intake.receive = async () => { throw new Error('connection to the store lost'); };
      let a: Answer;
      try {
        a = await send(endpoint, r);
      } finally {
        intake.receive = receive;
      }
      assert.equal(a.status, 200);
      assert.equal(a.fhdm, -9);
      assert.match(a.fhxx!, /稍后重试/);
      assert.equal((await getJson(`${h.url}/api/v1/cases/lookup?system=${ADAPTER}&localId=${r.SLBH}`, SUPERVISOR)).status, 404);
      assert.ok(h.logs.some((l) => l.includes('cannot store report')));
      const retry = await send(endpoint, r);
      assert.equal(retry.fhdm, 1);
      const m = await fetch(`${h.url}/metrics`).then((x) => x.text());
      assert.ok(metric(m, 'hub_inbound_messages_total', '{adapter="vehicle-office",result="failed"}') >= 1);
    });

    it('takes the simulator\'s report streams of both halls (UTF-8 and GBK, repeats, out of order, bad ID numbers): every report answered 1, or -1 exactly for a bad ID', async () => {
      const stream = new VehicleReportStream({ seed: `veh-${store}`, badIdChance: 0.05, serialRange: [10_000, 19_999] });
      const seen: VehicleReport[] = [];
      let refused = 0;
      for (let i = 0; i < 120; i++) {
        const r = i % 10 === 9 && seen.length ? seen[Math.floor(seen.length / 2)] : stream.next();
        const hall = VEHICLE_HALLS.find((x) => x.GLBM === r.GLBM)!;
        const a = await post(endpoint, buildReportEnvelope(r, hall), { 'Content-Type': `text/xml; charset=${hall.encoding === 'gbk' ? 'GBK' : 'utf-8'}` });
        const id = r.SQR.SFZMHM;
        const validId = r.SQR.SFZMMC === 'A' ? normaliseCitizenId(id).ok : r.SQR.SFZMMC === 'E' ? normaliseUscc(id).ok : true;
        assert.equal(a.fhdm, validId ? 1 : -1, `${r.LSH} ${r.GLBM} ${a.fhxx}`);
        if (!validId) refused++;
        seen.push(r);
      }
      assert.ok(refused > 0, 'the stream carried some bad ID numbers');

      // And the push simulator itself, as `make run` starts it, for a few seconds.
      const before = await counts(h);
      const sim = new VehicleOfficePushSimulator({ url: endpoint, intervalMs: 50, seed: `push-${store}`, logger: createLogger('silent') });
      sim.start();
      await sleep(2500);
      await sim.stop();
      const after = await counts(h);
      assert.ok(after.events > before.events, 'the simulator\'s reports were applied');
      const halls = await h.hub.context.store.driver.query<{ hall: string }>("SELECT DISTINCT body->'data'->'department'->'hall'->>'code' AS hall FROM events WHERE adapter = $1", [ADAPTER]);
      assert.deepEqual(halls.rows.map((x) => x.hall).sort(), ['111301000004001219', '11130100000400105K'].sort());
    });
  });

  // A node's own restart: one hub in this process on either store.
  if (store === 'cluster') continue;
  describe(`vehicle office: raw messages a stop left pending (${store} store)`, function () {
    this.timeout(120_000);
    let h: VehicleHub | null = null;
    afterEach(async () => { await h?.stop(); h = null; });

    it('applies a stored, unanswered report at the next start, still within its sender\'s scope; a stored poll page is read again instead', async () => {
      h = await startVehicleHub(store, NO_POLL);
      const inbox = h.hub.context.store.inbox;
      const mine = report();
      const foreign = report({ GLBM: HALL_2.GLBM });
      const pushed = (r: VehicleReport) => inbox.put(ADAPTER, envelope(r), 'text/xml; charset=utf-8', { 'x-hub-channel': 'push', 'x-hub-sender': HALL_1.username });
      const a = await pushed(mine);
      const b = await pushed(foreign);
      const page = await inbox.put(ADAPTER, Buffer.from('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>'), 'text/xml; charset=utf-8', { 'x-hub-channel': 'poll' });
      await h.stop({ keep: true });
      h = await startVehicleHub(store, NO_POLL, h);
      assert.equal((await caseOf(h, mine.SLBH)).timeline.length, 1);
      assert.equal((await getJson(`${h.url}/api/v1/cases/lookup?system=${ADAPTER}&localId=${foreign.SLBH}`, SUPERVISOR)).status, 404);
      const rows = await h.hub.context.store.driver.query<{ id: string; state: string; result: any }>('SELECT id, state, result FROM inbox WHERE id = ANY($1)', [[a.id, b.id, page.id]]);
      const byId = new Map(rows.rows.map((r) => [r.id, r]));
      assert.ok(rows.rows.every((r) => r.state === 'processed'));
      assert.equal(byId.get(b.id)!.result[0].rule, 'scope');
      assert.match(JSON.stringify(byId.get(page.id)!.result), /superseded/);
      // The office's retry of the stored report is a duplicate with the same JGM.
      const retry = await send(`${h.url}/soap/vehicle-office`, mine);
      assert.equal(retry.fhdm, 1);
      assert.equal(retry.fhxx, '重复报送，此前已接收');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The next department that speaks SOAP: a folder, no TypeScript.

const APPROVAL_WSDL = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
             xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:ap="urn:example:approval:v2" targetNamespace="urn:example:approval:v2" name="Approval">
  <types>
    <xs:schema targetNamespace="urn:example:approval:v2" elementFormDefault="qualified">
      <xs:element name="StatusNotice"><xs:complexType><xs:sequence>
        <xs:element name="NoticeId" type="xs:string"/><xs:element name="Org" type="xs:string"/><xs:element name="CaseNo" type="xs:string"/>
        <xs:element name="State" type="xs:string"/><xs:element name="At" type="xs:string"/>
        <xs:element name="Name" type="xs:string"/><xs:element name="IdNo" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="StatusAck"><xs:complexType><xs:sequence>
        <xs:element name="Message" type="xs:string"/><xs:element name="Result" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
    </xs:schema>
  </types>
  <message name="In"><part name="body" element="ap:StatusNotice"/></message>
  <message name="Out"><part name="body" element="ap:StatusAck"/></message>
  <portType name="NoticePort"><operation name="Notify"><input message="ap:In"/><output message="ap:Out"/></operation></portType>
  <binding name="NoticeBinding" type="ap:NoticePort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Notify"><soap:operation soapAction="urn:example:approval:v2/Notify"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="NoticeService"><port name="NoticePort" binding="ap:NoticeBinding"><soap:address location="http://localhost/x"/></port></service>
</definitions>
`;

function approvalFolder(root: string): string {
  const dir = path.join(root, 'approval-soap');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'notice.wsdl'), APPROVAL_WSDL);
  fs.writeFileSync(path.join(dir, 'adapter.yaml'), YAML.stringify({
    id: 'approval-soap',
    transport: {
      type: 'soap',
      options: {
        wsdl: 'notice.wsdl',
        push: {
          service: 'NoticeService', port: 'NoticePort', operation: 'Notify', requestElement: 'StatusNotice', responseElement: 'StatusAck',
          encodings: ['utf-8'],
          auth: { scheme: 'http-basic', senders: { 'approval-gw': { password: 'Gateway-demo-2026' } } },
          // No case code field, text codes, and no retry code: a hub failure is a soap:Server Fault.
          answer: { codeField: 'Result', messageField: 'Message', codes: { accepted: 'OK', duplicate: 'OK', rejected: 'REFUSED' } },
        },
      },
    },
  }));
  fs.writeFileSync(path.join(dir, 'mapping.yaml'), YAML.stringify({
    adapter: 'approval-soap',
    eventKey: ['NoticeId'],
    fields: {
      localCaseId: { from: 'CaseNo' },
      status: { from: 'State', table: 'status' },
      item: { value: '130100-XZ-0001' },
      statusTime: { from: 'At', normalise: 'localTime', format: 'iso8601' },
      applicantName: { from: 'Name', normalise: 'personName' },
      applicantIdType: { value: 'CITIZEN_ID' },
      applicantIdNumber: { from: 'IdNo' },
    },
    tables: { status: { NEW: 'SUBMITTED', TAKEN: 'ACCEPTED' } },
  }));
  const registry = YAML.parse(fs.readFileSync(path.join(ROOT, 'contracts', 'registry.yaml'), 'utf8'));
  registry.departments.find((d: any) => d.code === '111301000001000056').systems = ['approval-soap'];
  fs.writeFileSync(path.join(root, 'registry.yaml'), YAML.stringify(registry));
  const catalogue = YAML.parse(fs.readFileSync(path.join(ROOT, 'contracts', 'catalogue.yaml'), 'utf8'));
  catalogue.items.push({ code: '130100-XZ-0001', name: '示例审批事项', kind: 'licensing', department: '111301000001000056', legalDays: 20, promisedDays: 5, intakeDays: 5 });
  fs.writeFileSync(path.join(root, 'catalogue.yaml'), YAML.stringify(catalogue));
  fs.writeFileSync(path.join(root, 'hub.yaml'), YAML.stringify({
    region: '130100', registry: 'registry.yaml', catalogue: 'catalogue.yaml',
    tokens: [{ name: 'demo supervisor', token: 'demo-supervisor-token', roles: ['supervisor'] }],
    adapters: [{ id: 'approval-soap', dir: dir }],
  }));
  return path.join(root, 'hub.yaml');
}

describe('a second SOAP department is a folder, not new TypeScript', function () {
  this.timeout(60_000);
  it('serves another WSDL with HTTP Basic, its own element and answer names, and a soap:Server Fault when the hub fails', async () => {
    const root = testDataDir('approval-soap');
    const config = loadConfig({ HUB_CONFIG: approvalFolder(root), HUB_HTTP_PORT: '0', HUB_DATA_DIR: root, HUB_LOG_LEVEL: 'silent' });
    const hub = await startHub(config, createLogger('silent'));
    try {
      const url = `${hub.url}/soap/approval-soap`;
      const notice = (id: string, idNo = '130102198503120412') => Buffer.from('<?xml version="1.0" encoding="UTF-8"?>' +
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><StatusNotice xmlns="urn:example:approval:v2">' +
        `<NoticeId>${id}</NoticeId><Org>x</Org><CaseNo>XZ-${id}</CaseNo><State>TAKEN</State><At>2026-11-25T10:00:00+08:00</At><Name>王建国</Name><IdNo>${idNo}</IdNo>` +
        '</StatusNotice></s:Body></s:Envelope>');
      const basic = (u: string, p: string) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`, SOAPAction: '"urn:example:approval:v2/Notify"' });
      const call = async (body: Buffer, headers: Record<string, string>) => {
        const r = await httpPost(url, body, { 'Content-Type': 'text/xml; charset=utf-8', ...headers });
        return { status: r.status, text: r.body.toString('utf8'), parsed: answerParser.parse(r.body.toString('utf8'))?.Envelope?.Body };
      };
      const ok = await call(notice('n1'), basic('approval-gw', 'Gateway-demo-2026'));
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.parsed.StatusAck, { Message: '接收成功', Result: 'OK' });
      assert.match(ok.text, /<ap:Message>接收成功<\/ap:Message><ap:Result>OK<\/ap:Result>/, 'fields in the order of the schema');
      assert.equal((await hub.context.store.driver.query('SELECT 1 FROM events WHERE adapter = $1', ['approval-soap'])).rows.length, 1);
      const refused = await call(notice('n2', '130102198503120413'), basic('approval-gw', 'Gateway-demo-2026'));
      assert.equal(refused.parsed.StatusAck.Result, 'REFUSED');
      const wrong = await call(notice('n3'), basic('approval-gw', 'nope-nope-nope'));
      assert.equal(wrong.status, 500);
      assert.equal(wrong.parsed.Fault.faultcode, 'soap:Client');
      const gbk = await call(iconv.encode(notice('n4').toString('utf8'), 'gbk'), { ...basic('approval-gw', 'Gateway-demo-2026'), 'Content-Type': 'text/xml; charset=GBK' });
      assert.equal(gbk.parsed.Fault.faultcode, 'soap:Client', 'GBK is not among this department\'s encodings');
      const intake = hub.context.intake;
      const receive = intake.receive;
      intake.receive = async () => { throw new Error('store down'); };
      try {
        const down = await call(notice('n5'), basic('approval-gw', 'Gateway-demo-2026'));
        assert.equal(down.status, 500);
        assert.equal(down.parsed.Fault.faultcode, 'soap:Server');
      } finally {
        intake.receive = receive;
      }
    } finally {
      await hub.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Polling the office's query service.

/**
 * A port nothing listens on now, and that no server started with port 0 can be given meanwhile: it
 * is taken below the kernel's ephemeral range (ip_local_port_range starts at 32768 by default).
 * A port freed from that range could be handed straight to the hub's own HTTP server, and the
 * "unreachable" office would answer.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = http.createServer();
    const ok = await new Promise<boolean>((r) => { s.once('error', () => r(false)); s.listen(port, '127.0.0.1', () => r(true)); });
    if (!ok) continue;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
}

const pollOptions = (url: string, initialStartTime = '2026-11-24 00:00:00') => ({ poll: { enabled: true, url, intervalSeconds: 0.2, initialStartTime, maxBackoffSeconds: 1 } });

/** The office's changes with runs of equal ZTSJ that cross page boundaries (checked, not hoped for). */
function changesWithBoundaryTies(n: number, seed: string): VehicleReport[] {
  const changes = generateChanges(n, { start: '2026-11-24 08:00:00', seed });
  const boundaryTies = [100, 200, 300, 400, 500, 600, 700, 800, 900].filter((i) => i < n && changes[i - 1].ZTSJ === changes[i].ZTSJ);
  assert.ok(boundaryTies.length >= 2, `the data must tie across page boundaries (${boundaryTies.join(',')})`);
  return changes;
}

/** Every change applied exactly once: an event, or (bad ID number) one dead letter; nothing twice. */
async function assertExactlyOnce(store: Pick<Store, 'driver' | 'deadLetters'>, changes: VehicleReport[]) {
  const ev = await store.driver.query<{ id: string }>('SELECT id FROM events WHERE adapter = $1', [ADAPTER]);
  // Dead letters' records are stored sealed: read through the store, which opens them.
  const dl = await store.deadLetters.list({ adapter: ADAPTER, state: 'all', limit: 100_000 });
  const events = new Set(ev.rows.map((r) => r.id));
  const dead = dl.rows.map((r) => (r.record as { LSH: string }).LSH);
  const lost: string[] = [];
  for (const c of changes) {
    const inEvents = events.has(eventId(ADAPTER, [c.LSH]));
    const inDead = dead.filter((l) => l === c.LSH).length;
    if (!inEvents && inDead === 0) lost.push(c.LSH);
    assert.ok(!(inEvents && inDead), `${c.LSH} both applied and dead-lettered`);
    assert.ok(inDead <= 1, `${c.LSH} dead-lettered ${inDead} times`);
  }
  assert.deepEqual(lost, [], `lost: ${lost.slice(0, 10).join(', ')}`);
  assert.equal(events.size + dead.length, changes.length, 'nothing else, nothing twice');
  assert.ok(dead.length > 0, 'the data carried some bad ID numbers');
}

describe('vehicle office polling in a cluster: one node at a time (postgres store)', function () {
  this.timeout(180_000);
  let svc: VehicleQueryService | null = null;
  const hubs: VehicleHub[] = [];
  after(async () => {
    for (const h of hubs.reverse()) await h.stop({ keep: true }).catch(() => undefined);
    await hubs[0]?.drop();
    await svc?.close();
  });

  it('has one of two nodes sharing the store poll; when it stops, the other takes over from the cursor; every change applied once', async () => {
    const changes = changesWithBoundaryTies(400, 'lease');
    svc = await startVehicleQueryService({ port: 0, records: changes.slice(0, 200) });
    const options = { poll: { ...pollOptions(svc.url).poll, leaseSeconds: 2 } };
    const a = await startVehicleHub('postgres', options);
    hubs.push(a);
    const b = await startVehicleHub('postgres', options, { ...a, dataDir: testDataDir('veh-lease-b') });
    hubs.push(b);
    const pages = async (h: VehicleHub) => metric(await fetch(`${h.url}/metrics`).then((r) => r.text()), 'hub_poll_pages_total', '{adapter="vehicle-office"}');
    await waitFor('the first 200 changes applied', async () => { const c = await counts(a); return c.events + c.deadLetters >= 200; }, 60_000);
    await sleep(1500); // several more poll intervals on both nodes
    const [pa, pb] = [await pages(a), await pages(b)];
    assert.ok((pa > 0) !== (pb > 0), `exactly one node reads the feed (pages read: ${pa} and ${pb})`);
    const [holder, other] = pa > 0 ? [a, b] : [b, a];
    assert.ok(other.logs.some((l) => l.includes('"msg":"another node polls the feed"')));

    // The holder stops (it releases the lease): the other node goes on from the stored cursor.
    await holder.stop({ keep: true });
    hubs.splice(hubs.indexOf(holder), 1);
    svc.addRecords(changes.slice(200));
    await waitFor('the remaining node to apply every change', async () => { const c = await counts(other); return c.events + c.deadLetters >= changes.length; }, 30_000);
    assert.ok(await pages(other) > 0);
    assert.ok(other.logs.some((l) => l.includes('"msg":"this node polls the feed"')));
    await assertExactlyOnce(other.hub.context.store, changes);
  });
});

for (const store of TARGETS) {
  describe(`vehicle office polling: QueryChangedCases against the simulator (${store})`, function () {
    this.timeout(180_000);
    let svc: VehicleQueryService | null = null;
    let h: VehicleHub | null = null;
    afterEach(async () => {
      await h?.stop();
      await svc?.close();
      h = null;
      svc = null;
    });

    it('6. applies 1,000 changes over 10+ pages, with ZTSJ ties at page boundaries and changes added during the walk, each exactly once', async () => {
      const changes = changesWithBoundaryTies(1000, `poll-${store}`);
      svc = await startVehicleQueryService({ port: 0, records: changes.slice(0, 900) });
      h = await startVehicleHub(store, pollOptions(svc.url));
      // The office makes more changes visible while the hub pages: some with the ZTSJ it served last.
      const all = [...changes.slice(0, 900)];
      const rest = changes.slice(900);
      while (rest.length) {
        await sleep(150);
        const batch = rest.splice(0, 25);
        svc.addRecords(batch);
        all.push(...batch);
      }
      const deadline = Date.now() + 90_000;
      for (;;) {
        const c = await counts(h);
        if (c.events + c.deadLetters >= all.length) break;
        assert.ok(Date.now() < deadline, `only ${c.events + c.deadLetters} of ${all.length} applied: ${h.logs.filter((l) => /poll failed/.test(l)).slice(-2).join('')}`);
        await sleep(200);
      }
      await sleep(1000); // a few more polls: they must apply nothing again
      await assertExactlyOnce(h.hub.context.store, all);
      const m = await fetch(`${h.url}/metrics`).then((r) => r.text());
      assert.ok(metric(m, 'hub_poll_pages_total', '{adapter="vehicle-office"}') >= 10);
      assert.equal(metric(m, 'hub_poll_errors_total', '{adapter="vehicle-office"}'), 0);
      assert.equal(metric(m, 'hub_inbound_messages_total', '{adapter="vehicle-office",result="duplicate"}'), 0, 'records read again at the cursor are skipped, not re-applied');
      const cursor = await h.hub.context.store.driver.query<{ position: string }>('SELECT position FROM poll_cursors WHERE adapter = $1', [ADAPTER]);
      assert.equal(cursor.rows[0].position, `${all[all.length - 1].ZTSJ.replace(' ', 'T')}+08:00`);
      // Each page with new records was stored raw before its records were applied.
      const pages = await h.hub.context.store.driver.query<{ n: string }>("SELECT count(*)::text AS n FROM inbox WHERE adapter = $1 AND headers->>'x-hub-channel' = 'poll' AND state = 'processed'", [ADAPTER]);
      assert.ok(Number(pages.rows[0].n) >= 10);
    });

    it('keeps one dead letter for a record both pushed and polled while its ID number is invalid, refusing it both times', async () => {
      const bad = report({ SQR: { XM: '王建国', SFZMMC: 'A', SFZMHM: '130102198503120413', LXDH: '138 3311 0425' } });
      svc = await startVehicleQueryService({ port: 0, records: [] });
      h = await startVehicleHub(store, pollOptions(svc.url));
      const pushed = await send(`${h.url}/soap/vehicle-office`, bad);
      assert.equal(pushed.fhdm, -1);
      assert.match(pushed.fhxx ?? '', /校验位/);
      // The office's feed then lists the same report: the poll refuses it too.
      svc.addRecords([bad]);
      await waitFor('the poll read the report', () => h!.logs.some((l) => l.includes('"msg":"poll page applied"')), 20_000);
      const m = await fetch(`${h.url}/metrics`).then((r) => r.text());
      assert.equal(metric(m, 'hub_inbound_messages_total', '{adapter="vehicle-office",result="rejected"}'), 2, 'refused when pushed and when polled');
      const letters = await getJson(`${h.url}/api/v1/dead-letters?adapter=${ADAPTER}`, OPERATOR);
      assert.equal(letters.body.items.length, 1, 'one dead letter for the one record');
      assert.equal(letters.body.items[0].field, 'SQR.SFZMHM');
      assert.equal((await counts(h)).events, 0);
    });

    it('keeps the furthest cursor in the store, merging the keys read at the same time', async () => {
      h = await startVehicleHub(store, NO_POLL);
      const cursors = new PollCursorStore(h.hub.context.store.driver);
      assert.equal(await cursors.load('feed-x'), null);
      await cursors.save('feed-x', { position: '2026-11-24T08:00:05+08:00', keys: ['a', 'b'] });
      await cursors.save('feed-x', { position: '2026-11-24T08:00:05+08:00', keys: ['b', 'c'] });
      assert.deepEqual((await cursors.load('feed-x'))!.keys.sort(), ['a', 'b', 'c']);
      await cursors.save('feed-x', { position: '2026-11-24T08:00:04+08:00', keys: ['z'] });
      assert.deepEqual(await cursors.load('feed-x'), { position: '2026-11-24T08:00:05+08:00', keys: (await cursors.load('feed-x'))!.keys });
      await cursors.save('feed-x', { position: '2026-11-24T08:00:06+08:00', keys: ['d'] });
      assert.deepEqual(await cursors.load('feed-x'), { position: '2026-11-24T08:00:06+08:00', keys: ['d'] });
    });

    it('backs off, logs and counts errors while the office is unreachable or refuses the credentials, then catches up', async () => {
      const port = await freePort();
      h = await startVehicleHub(store, pollOptions(`http://127.0.0.1:${port}/veh/query`));
      await sleep(1500);
      let m = await fetch(`${h.url}/metrics`).then((r) => r.text());
      const errors = metric(m, 'hub_poll_errors_total', '{adapter="vehicle-office"}');
      assert.ok(errors >= 2, `${errors} errors counted`);
      assert.ok(errors <= 6, `backing off, not hammering: ${errors} errors in 1.5 s`);
      const failures = h.logs.filter((l) => l.includes('"msg":"poll failed; backing off"'));
      assert.ok(failures.some((l) => l.includes('ECONNREFUSED')), `a refused connection is a logged poll error: ${failures.slice(0, 3).join('\n')}`);
      assert.equal((await getJson(`${h.url}/health/live`)).status, 200);

      const changes = generateChanges(150, { start: '2026-11-24 08:00:00', seed: `backoff-${store}` });
      svc = await startVehicleQueryService({ port, records: changes, password: 'Another-password-1' });
      await sleep(1500);
      assert.ok(h.logs.some((l) => l.includes('poll failed') && l.includes('认证失败')), 'a refused login is a logged poll error');
      assert.equal((await counts(h)).events, 0);
      await svc.close();
      svc = await startVehicleQueryService({ port, records: changes });
      const deadline = Date.now() + 30_000;
      while ((await counts(h)).events + (await counts(h)).deadLetters < changes.length) {
        assert.ok(Date.now() < deadline, 'caught up after the office came back');
        await sleep(200);
      }
      await assertExactlyOnce(h.hub.context.store, changes).catch((err) => {
        // 150 changes may hold no bad ID number; the rest of the check still holds.
        if (!/bad ID numbers/.test((err as Error).message)) throw err;
      });
      m = await fetch(`${h.url}/metrics`).then((r) => r.text());
      assert.ok(metric(m, 'hub_poll_errors_total', '{adapter="vehicle-office"}') > errors);
    });
  });

  // A node killed and started again: one hub process on either store.
  if (store === 'cluster') continue;
  describe(`vehicle office polling: killing the hub mid-walk and starting it again (${store} store, own process)`, function () {
    this.timeout(240_000);
    let proc: HubProcess | null = null;
    let svc: VehicleQueryService | null = null;
    let db: { url: string; drop(): Promise<void> } | null = null;
    afterEach(async () => {
      await proc?.stop('SIGKILL');
      await svc?.close();
      await db?.drop();
      proc = null;
      svc = null;
      db = null;
    });

    it('6. loses and duplicates nothing', async () => {
      const changes = changesWithBoundaryTies(1500, `kill-${store}`);
      svc = await startVehicleQueryService({ port: 0, records: changes });
      const dataDir = testDataDir(`veh-kill-${store}`);
      db = store === 'postgres' ? await createTestDatabase() : null;
      const env = { HUB_CONFIG: writeConfig(dataDir, pollOptions(svc.url)), HUB_DATA_DIR: dataDir, HUB_STORE: db ? db.url : 'embedded', HUB_LOG_LEVEL: 'info' };
      const pagesApplied = () => proc!.output().split('\n').filter((l) => l.includes('"msg":"poll page applied"')).length;

      proc = await spawnHub(env);
      const deadline = Date.now() + 60_000;
      while (pagesApplied() < 3) {
        assert.ok(Date.now() < deadline, `no pages applied:\n${proc.output().slice(-2000)}`);
        await sleep(20);
      }
      await proc.stop('SIGKILL');
      const before = pagesApplied();
      assert.ok(before < Math.ceil(changes.length / 100), `killed in the middle of the walk (${before} pages applied)`);

      proc = await spawnHub(env);
      const last = `${changes[changes.length - 1].ZTSJ.replace(' ', 'T')}+08:00`;
      const done = Date.now() + 120_000;
      while (!proc.output().split('\n').some((l) => l.includes('"msg":"poll walk done"') && l.includes(`"cursor":"${last}"`))) {
        assert.ok(Date.now() < done, `the restarted hub did not finish the walk:\n${proc.output().slice(-3000)}`);
        await sleep(100);
      }
      const m = await fetch(`${proc.url}/metrics`).then((r) => r.text());
      assert.equal(metric(m, 'hub_inbound_messages_total', '{adapter="vehicle-office",result="duplicate"}'), 0, 'the restart re-applied nothing');
      assert.equal(await proc.stop('SIGTERM'), 0);
      proc = null;

      const s = await openStore({ store: db ? db.url : 'embedded', dataDir, region: '130100' });
      try {
        await assertExactlyOnce(s, changes);
        // The page in flight at the kill was either committed with its cursor, or read again.
        const superseded = await s.driver.query<{ n: string }>("SELECT count(*)::text AS n FROM inbox WHERE adapter = $1 AND state <> 'processed'", [ADAPTER]);
        assert.equal(superseded.rows[0].n, '0', 'no raw page left unprocessed');
      } finally {
        await s.close();
      }
    });
  });
}

