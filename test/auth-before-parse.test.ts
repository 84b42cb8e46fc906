import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import * as iconv from 'iconv-lite';
import { ADAPTERS_DIR } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { httpPost } from '../infra/simulators/http-post';
import { signRequest, MARKET_REGULATION_KEY_ID, MARKET_REGULATION_SECRET } from '../infra/simulators/market-regulation';
import { startTestHub, TestHub, testDataDir } from './support/hub';

// A sender is authenticated before the hub says anything about what it sent: one Fault (SOAP) or
// one 401 (webhook) whatever the body, no parser's word in it, nothing stored, and a body that is
// too large or never ends is not read whole.

const VEHICLE_DIR = path.join(ADAPTERS_DIR, 'vehicle-office');
// The demo credentials of 车管一所 (adapters/vehicle-office/adapter.yaml).
const USER = 'veh-hall-1';
const PASSWORD = 'Veh1-demo-2026!';
const SOAP_ACTION = '"urn:gov:sjz:veh:exchange:v1#ReportCaseStatus"';
const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';
const SOAP_LIMIT = 1024 * 1024;
const WEBHOOK_LIMIT = 5 * 1024 * 1024;
/** Longer than any answer that does not wait for the body; shorter than the hub's linger on one. */
const PROMPT_MS = 1500;

const sample = (name: string) => fs.readFileSync(path.join(VEHICLE_DIR, 'samples', name), 'utf8');
/** The office's sample report, with a fresh LSH and the given credentials (null: no Security header). */
function report(creds: { user: string; password: string } | null, file = '01-accepted-utf8.xml'): string {
  let xml = sample(file).replace(/<veh:LSH>[^<]*<\/veh:LSH>/, `<veh:LSH>AB${Date.now()}${Math.floor(Math.random() * 1e6)}</veh:LSH>`);
  if (!creds) return xml.replace(/<soapenv:Header>[\s\S]*<\/soapenv:Header>\s*/, '');
  xml = xml.replace(/<wsse:Username>[^<]*</, `<wsse:Username>${creds.user}<`).replace(/(<wsse:Password[^>]*>)[^<]*</, `$1${creds.password}<`);
  return xml;
}
const WRONG = { user: USER, password: 'Veh1-wrong-2026!' };
const RIGHT = { user: USER, password: PASSWORD };

function billionLaughs(creds: { user: string; password: string }): string {
  const entities = '<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    Array.from({ length: 8 }, (_, i) => `<!ENTITY lol${i + 2} "${`&lol${i + 1};`.repeat(10)}">`).join('');
  return `<?xml version="1.0"?><!DOCTYPE lolz [${entities}]>` +
    report(creds).replace(/^<\?xml[^>]*>\s*/, '').replace('<veh:BZ></veh:BZ>', '<veh:BZ>&lol9;</veh:BZ>');
}

type Answer = { status: number; contentType: string; body: string };

async function post(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await httpPost(url, Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: SOAP_ACTION, ...headers });
  return { status: r.status, contentType: String(r.headers['content-type'] ?? ''), body: r.body.toString('utf8') };
}

/** What a sender reads of an answer: its text, without the markup. */
const wordsOf = (body: string) => body.replace(/<[^>]*>/g, ' ');
const PARSER_WORDS = /xml|pars|line|column|entit|doctype|dtd|unexpected|charset|encod|utf|gbk|byte|position|token|syntax|json/i;

function assertNoParserWords(a: Answer, what: string): void {
  const text = a.contentType.includes('json') ? JSON.stringify(JSON.parse(a.body)) : wordsOf(a.body);
  assert.doesNotMatch(text, PARSER_WORDS, `${what}: ${a.body}`);
  assert.doesNotMatch(a.body, /XML|DOCTYPE|Unexpected|ENTITY/, `${what}: ${a.body}`);
}

/** Raw messages the hub has stored, from any sender. */
const rowsOf = async (hub: RunningHub) => Number((await hub.context.store.driver.query<{ n: string }>('SELECT count(*)::text AS n FROM inbox')).rows[0].n);

const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

interface Streamed {
  status: number;
  contentType: string;
  body: string;
  /** From the first byte sent to the answer's end. */
  answeredMs: number;
  /** Body bytes handed to the connection when the answer had come. */
  writtenAtAnswer: number;
  /** From the answer's end to the connection being closed by the hub; null when still open after `waitCloseMs`. */
  closedAfterMs: number | null;
}

/**
 * Sends the headers and a first chunk of a body that never ends (its Content-Length, if given, is
 * never reached), writing on as fast as the connection takes it, and reads the answer. With
 * `firstChunkOnly`, nothing more is written until the answer has come (then the body goes on).
 * The client keeps the connection alive: a close is the hub's doing.
 */
function streamEndlessly(url: string, headers: Record<string, string>, opts: { waitCloseMs?: number; firstChunkOnly?: boolean } = {}): Promise<Streamed> {
  const agent = new http.Agent({ keepAlive: true });
  const t0 = Date.now();
  let written = 0;
  let ended = false;
  return new Promise<Streamed>((resolve, reject) => {
    let answer: Omit<Streamed, 'closedAfterMs'> | null = null;
    let answeredAt = 0;
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        answeredAt = Date.now();
        answer = { status: res.statusCode!, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8'), answeredMs: answeredAt - t0, writtenAtAnswer: written };
        giveUp = setTimeout(() => finish(null), opts.waitCloseMs ?? 0);
        if (opts.firstChunkOnly) pump();
      });
    });
    let giveUp: NodeJS.Timeout | undefined;
    const finish = (closedAfterMs: number | null) => {
      if (ended) return;
      ended = true;
      clearTimeout(giveUp);
      clearTimeout(overall);
      req.destroy();
      if (answer) resolve({ ...answer, closedAfterMs });
      else reject(new Error(`no answer; ${written} bytes written in ${Date.now() - t0} ms`));
    };
    const overall = setTimeout(() => finish(null), 20_000);
    req.on('error', () => undefined);
    req.on('close', () => finish(answer ? Date.now() - answeredAt : null));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      if (ended || req.destroyed || (opts.firstChunkOnly && written > 0 && !answer)) return;
      written += chunk.length;
      if (req.write(chunk)) setImmediate(pump);
      else req.once('drain', pump);
    };
    req.flushHeaders();
    pump();
  }).finally(() => agent.destroy());
}

describe('authentication before parsing, on every transport', function () {
  this.timeout(120_000);
  let t: TestHub;
  let endpoint: string;
  let inbound: string;
  const inboxRows = () => rowsOf(t.hub);

  before(async () => {
    t = await startTestHub('embedded');
    endpoint = `${t.url}/soap/vehicle-office`;
    inbound = `${t.url}/api/v1/inbound/market-regulation`;
  });
  after(async () => { await t?.stop(); });

  describe('SOAP push with a WS-Security UsernameToken (the vehicle office)', () => {
    let refused: Answer;
    before(async () => {
      refused = await post(endpoint, report(WRONG));
    });

    it('answers a wrong password with a well-formed body with the authentication Fault', () => {
      assert.equal(refused.status, 500);
      assert.equal(refused.contentType, 'text/xml; charset=utf-8');
      assert.match(refused.body, /<faultcode>soap:Client<\/faultcode><faultstring>认证失败：用户名或密码错误 \(authentication failed\)<\/faultstring>/);
      assertNoParserWords(refused, 'wrong password');
    });

    it('answers every request it cannot authenticate with that same Fault, byte for byte, whatever is wrong with its body; nothing is stored', async () => {
      const before = await inboxRows();
      const wellFormed = report(WRONG);
      const cases: [string, Buffer | string, Record<string, string>?][] = [
        ['not well-formed (cut short)', wellFormed.slice(0, Math.floor(wellFormed.length * 0.6))],
        ['not well-formed, the right password', report(RIGHT).replace('</veh:ZT>', '</veh:ZTX>')],
        ['not XML at all', 'LSH=R1&GLBM=130100000401'],
        ['JSON', JSON.stringify({ LSH: 'R1' }), { 'Content-Type': 'application/json' }],
        ['a DOCTYPE with entities (billion laughs)', billionLaughs(WRONG)],
        ['a DOCTYPE with entities, the right password', billionLaughs(RIGHT)],
        ['an external entity', '<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>'],
        ['a bare DOCTYPE', `<!DOCTYPE soapenv:Envelope>${report(WRONG).replace(/^<\?xml[^>]*>\s*/, '')}`],
        ['GBK bytes labelled UTF-8, the right password', iconv.encode(report(RIGHT), 'gbk')],
        ['a charset the office does not use', report(WRONG), { 'Content-Type': 'text/xml; charset=ISO-8859-1' }],
        ['no Security header', report(null)],
        ['an unknown user', report({ user: 'veh-hall-9', password: PASSWORD })],
        ['the poller\'s credentials', report({ user: 'hub-poller', password: 'Poll-demo-2026!' })],
        ['a digest password', report(RIGHT).replace('#PasswordText', '#PasswordDigest')],
        ['not a SOAP envelope', '<ReportCaseStatusRequest xmlns="urn:gov:sjz:veh:exchange:v1"><LSH>1</LSH></ReportCaseStatusRequest>'],
        ['SOAP 1.2, a wrong password', report(WRONG).replace('http://schemas.xmlsoap.org/soap/envelope/', SOAP12_NS)],
        ['another operation, a wrong password', report(WRONG).replace(/ReportCaseStatusRequest/g, 'QueryChangedCasesRequest')],
        ['elements nested 100 deep', report(WRONG).replace('<veh:BZ></veh:BZ>', `<veh:BZ>${'<x>'.repeat(100)}${'</x>'.repeat(100)}</veh:BZ>`)],
        ['a wrong SOAPAction, a wrong password', report(WRONG), { SOAPAction: '"urn:gov:sjz:veh:exchange:v1#QueryChangedCases"' }],
        ['an element the schema lacks, a wrong password', report(WRONG).replace('<veh:BZ>', '<veh:CLPP>解放</veh:CLPP><veh:BZ>')],
      ];
      for (const [what, body, headers] of cases) {
        const a = await post(endpoint, body, headers);
        assert.deepEqual(a, refused, what);
        assertNoParserWords(a, what);
      }
      assert.equal(await inboxRows(), before, 'nothing refused was stored');
    });

    it('answers an authenticated sender\'s bad body as before: the reason, or FHDM -1 for an invalid report', async () => {
      const fault = async (body: string, headers: Record<string, string> = {}) => {
        const a = await post(endpoint, body, headers);
        assert.equal(a.status, 500, a.body);
        return wordsOf(a.body);
      };
      assert.match(await fault(report(RIGHT).replace(/ReportCaseStatusRequest/g, 'QueryChangedCasesRequest')), /不支持的操作/);
      assert.match(await fault(report(RIGHT).replace('http://schemas.xmlsoap.org/soap/envelope/', SOAP12_NS)), /soap:VersionMismatch[\s\S]*仅支持 SOAP 1\.1/);
      assert.match(await fault(report(RIGHT), { SOAPAction: '"urn:gov:sjz:veh:exchange:v1#QueryChangedCases"' }), /不支持的 SOAPAction/);
      assert.match(await fault(report(RIGHT).replace('<veh:BZ>', '<veh:CLPP>解放</veh:CLPP><veh:BZ>')), /未知元素 CLPP/);
      const invalid = await post(endpoint, report(RIGHT, '05-refused-unknown-zt.xml'));
      assert.equal(invalid.status, 200, invalid.body);
      assert.match(invalid.body, /<veh:FHDM>-1<\/veh:FHDM><veh:FHXX>流程状态未知: Q/);
      const ok = await post(endpoint, report(RIGHT));
      assert.equal(ok.status, 200, ok.body);
      assert.match(ok.body, /<veh:FHDM>1<\/veh:FHDM>/);
    });

    it('refuses a body over its limit before reading it whole: declared, or streamed without a length', async () => {
      const before = await inboxRows();
      const declared = await streamEndlessly(endpoint, { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': String(64 * 1024 * 1024) }, { waitCloseMs: 5000, firstChunkOnly: true });
      assert.equal(declared.status, 500);
      assert.equal(declared.writtenAtAnswer, 64 * 1024, 'answered after the first chunk');
      assert.match(declared.body, /<faultcode>soap:Client<\/faultcode><faultstring>请求超过 1048576 字节的上限/);
      assert.ok(declared.answeredMs < PROMPT_MS, `answered after ${declared.answeredMs} ms`);
      assert.ok(declared.closedAfterMs !== null, 'the hub closed the connection rather than read 64 MiB');
      const chunked = await streamEndlessly(endpoint, { 'Content-Type': 'text/xml; charset=utf-8', 'Transfer-Encoding': 'chunked' }, { waitCloseMs: 5000 });
      assert.match(chunked.body, /请求超过 1048576 字节的上限/);
      assert.ok(chunked.writtenAtAnswer > SOAP_LIMIT, 'answered once the limit was passed');
      assert.ok(chunked.closedAfterMs !== null, 'the hub closed the connection of a body that never ends');
      assert.equal(await inboxRows(), before);
    });
  });

  describe('the market-regulation webhook', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const signed = (body: Buffer, secret = MARKET_REGULATION_SECRET, ts = now()) => ({
      'Content-Type': 'application/json; charset=utf-8',
      'X-Hub-Key-Id': MARKET_REGULATION_KEY_ID,
      'X-Hub-Timestamp': String(ts),
      'X-Hub-Signature': signRequest(body, secret, ts),
    });
    const send = async (body: Buffer, headers: Record<string, string>): Promise<Answer> => {
      const r = await httpPost(inbound, body, headers);
      return { status: r.status, contentType: String(r.headers['content-type'] ?? ''), body: r.body.toString('utf8') };
    };
    const wellFormed = () => Buffer.from(JSON.stringify({ batchId: `b-${randomUUID()}`, events: [{ eventId: randomUUID(), caseNo: 'SJ1', itemCode: 'SCJG-SP-001', status: 'SUBMITTED' }] }));
    const malformed = Buffer.from('{"batchId": "b-1", "events": [{"eventId": ');

    it('checks the signature over the raw bytes before parsing them: a malformed body with a wrong signature gets the same 401 as a well-formed one', async () => {
      const before = await inboxRows();
      const good = wellFormed();
      const reference = await send(good, signed(good, 'not-the-secret-2026'));
      assert.equal(reference.status, 401);
      assert.match(reference.contentType, /^application\/problem\+json/);
      assert.equal(JSON.parse(reference.body).type, 'urn:hub:problem:bad-signature');
      assertNoParserWords(reference, 'wrong signature');
      const bad = await send(malformed, signed(malformed, 'not-the-secret-2026'));
      assert.deepEqual(bad, reference);
      // A signature made for the well-formed body, sent with the malformed one.
      assert.deepEqual(await send(malformed, signed(good)), reference);
      // Without signature headers, or with a stale timestamp: the same answer for either body.
      for (const headers of [{ 'Content-Type': 'application/json' }, signed(good, MARKET_REGULATION_SECRET, now() - 3600)]) {
        const a = await send(good, headers);
        const b = await send(malformed, headers);
        assert.equal(a.status, 401);
        assert.deepEqual(b, a);
        assertNoParserWords(b, JSON.parse(b.body).type);
      }
      assert.equal(await inboxRows(), before);
      // Correctly signed, the malformed body is then refused as not JSON.
      const parsed = await send(malformed, signed(malformed));
      assert.equal(parsed.status, 400);
      assert.equal(JSON.parse(parsed.body).type, 'urn:hub:problem:not-json');
    });

    it('refuses a body over 5 MiB with 413 as soon as its Content-Length says so, before it is sent whole', async () => {
      const before = await inboxRows();
      const a = await streamEndlessly(inbound, { ...signed(Buffer.alloc(0)), 'Content-Length': String(WEBHOOK_LIMIT + 1024 * 1024) }, { waitCloseMs: 5000, firstChunkOnly: true });
      assert.equal(a.status, 413, a.body);
      assert.match(a.contentType, /^application\/problem\+json/);
      assert.equal(JSON.parse(a.body).type, 'urn:hub:problem:body-too-large');
      assert.ok(a.answeredMs < PROMPT_MS, `answered after ${a.answeredMs} ms`);
      assert.equal(a.writtenAtAnswer, 64 * 1024, 'answered after the first chunk');
      assert.ok(a.closedAfterMs !== null, 'the hub closed the connection rather than read the rest');
      assert.equal(await inboxRows(), before);
    });

    it('refuses a chunked body with 413 once it passes 5 MiB, without waiting for its end', async () => {
      const before = await inboxRows();
      const a = await streamEndlessly(inbound, { ...signed(Buffer.alloc(0)), 'Transfer-Encoding': 'chunked' }, { waitCloseMs: 5000 });
      assert.equal(a.status, 413, a.body);
      assert.equal(JSON.parse(a.body).type, 'urn:hub:problem:body-too-large');
      assert.ok(a.writtenAtAnswer > WEBHOOK_LIMIT, 'answered once the limit was passed');
      assert.ok(a.closedAfterMs !== null, 'the hub closed the connection of a body that never ends');
      assert.equal(await inboxRows(), before);
    });

    it('refuses an unsigned request before reading its body, however large', async () => {
      const a = await streamEndlessly(inbound, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, { waitCloseMs: 5000, firstChunkOnly: true });
      assert.equal(a.status, 401, a.body);
      assert.equal(JSON.parse(a.body).type, 'urn:hub:problem:missing-signature');
      assert.ok(a.answeredMs < PROMPT_MS && a.writtenAtAnswer === 64 * 1024, `answered after ${a.answeredMs} ms, ${a.writtenAtAnswer} bytes`);
      assert.ok(a.closedAfterMs !== null);
    });
  });
});

/** A hub with the vehicle office only, its options overridden, its log kept. */
async function vehicleHub(label: string, options: Record<string, unknown>): Promise<{ url: string; hub: RunningHub; logs: string[]; stop(): Promise<void> }> {
  const dir = testDataDir(label);
  fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify({
    region: '130100',
    tokens: [{ name: 'demo supervisor', token: 'demo-supervisor-token', roles: ['supervisor'] }],
    adapters: [{ id: 'vehicle-office', dir: VEHICLE_DIR, overrides: { transport: { options: { poll: { enabled: false }, ...options } } } }],
  }));
  const config = loadConfig({ HUB_CONFIG: path.join(dir, 'hub.yaml'), HUB_HTTP_PORT: '0', HUB_DATA_DIR: dir, HUB_STORE: 'embedded', HUB_LOG_LEVEL: 'info' });
  const logs: string[] = [];
  const hub = await startHub(config, createLogger('info', { write: (line: string) => { logs.push(line); } }));
  return { url: hub.url!, hub, logs, stop: () => hub.stop() };
}

const logged = (logs: string[], msg: string) => logs.filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`)).map((l) => JSON.parse(l));
const refusalLogs = (logs: string[]) => logged(logs, 'SOAP request refused: authentication');

describe('what the operator is told of a refused SOAP sender', function () {
  this.timeout(120_000);
  let h: Awaited<ReturnType<typeof vehicleHub>>;
  before(async () => { h = await vehicleHub('auth-log', {}); });
  after(async () => { await h?.stop(); });

  it('logs the real reason, with the adapter, while the sender gets the one Fault', async () => {
    const endpoint = `${h.url}/soap/vehicle-office`;
    const reference = await post(endpoint, report(WRONG));
    assert.deepEqual(await post(endpoint, billionLaughs(WRONG)), reference);
    assert.deepEqual(await post(endpoint, report(RIGHT).slice(0, 300)), reference);
    assert.deepEqual(await post(endpoint, report(null)), reference);
    const [wrong, none] = refusalLogs(h.logs);
    assert.equal(wrong.adapter, 'vehicle-office');
    assert.deepEqual({ rule: wrong.rule, user: wrong.user, reason: wrong.reason }, { rule: 'bad-password', user: USER, reason: 'wrong password' });
    assert.equal(none.rule, 'no-credentials');
    assert.match(none.reason, /no wsse:Security\/wsse:UsernameToken/);
    // A body whose credentials could not be read: refused for its real reason, in the log only.
    const [dtd, cut] = logged(h.logs, 'SOAP request refused');
    assert.deepEqual({ adapter: dtd.adapter, rule: dtd.rule, authenticated: dtd.authenticated }, { adapter: 'vehicle-office', rule: 'doctype', authenticated: false });
    assert.match(dtd.reason, /DTD/);
    assert.deepEqual({ adapter: cut.adapter, rule: cut.rule }, { adapter: 'vehicle-office', rule: 'not-xml' });
    assert.match(cut.reason, /not well-formed XML/);
    assert.ok(cut.bytes > 0);
  });
});

describe('SOAP push with HTTP Basic: the body of an unauthenticated request is never read', function () {
  this.timeout(120_000);
  let h: Awaited<ReturnType<typeof vehicleHub>>;
  let endpoint: string;
  let refused: Answer;
  before(async () => {
    h = await vehicleHub('auth-basic', { push: { auth: { scheme: 'http-basic' } } });
    endpoint = `${h.url}/soap/vehicle-office`;
    refused = await post(endpoint, report(null), basic(USER, 'Veh1-wrong-2026!'));
  });
  after(async () => { await h?.stop(); });

  it('answers a wrong password with a well-formed body with the authentication Fault, and takes the right one', async () => {
    assert.equal(refused.status, 500);
    assert.equal(refused.contentType, 'text/xml; charset=utf-8');
    assert.match(refused.body, /<faultcode>soap:Client<\/faultcode><faultstring>认证失败：用户名或密码错误 \(authentication failed\)<\/faultstring>/);
    const ok = await post(endpoint, report(null), basic(USER, PASSWORD));
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /<veh:FHDM>1<\/veh:FHDM>/);
  });

  it('answers a missing or wrong credential with that same Fault whatever the body; nothing is stored', async () => {
    const before = await rowsOf(h.hub);
    const cases: [string, string, Record<string, string>][] = [
      ['no credential, a well-formed body', report(null), {}],
      ['no credential, a malformed body', report(null).slice(0, 400), {}],
      ['a wrong password, a malformed body', 'LSH=R1&GLBM=130100000401', basic(USER, 'Veh1-wrong-2026!')],
      ['a wrong password, billion laughs', billionLaughs(WRONG), basic(USER, 'Veh1-wrong-2026!')],
      ['an unknown user', report(null), basic('veh-hall-9', PASSWORD)],
      ['another scheme', report(null), { Authorization: `Bearer ${PASSWORD}` }],
    ];
    for (const [what, body, headers] of cases) {
      const a = await post(endpoint, body, headers);
      assert.deepEqual(a, refused, what);
      assertNoParserWords(a, what);
    }
    assert.equal(await rowsOf(h.hub), before);
    const logged = refusalLogs(h.logs);
    assert.ok(logged.some((l) => l.rule === 'no-credentials' && l.adapter === 'vehicle-office'));
    assert.ok(logged.some((l) => l.rule === 'unknown-sender' && l.user === 'veh-hall-9'));
  });

  it('answers at once a request whose body is far over the limit, or never ends, or never comes, and does not read it', async () => {
    const xml = { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: SOAP_ACTION };
    // The first 64 KiB, then nothing until the answer has come; then the body goes on for ever.
    const declared = await streamEndlessly(endpoint, { ...xml, 'Content-Length': String(256 * 1024 * 1024) }, { waitCloseMs: 5000, firstChunkOnly: true });
    const chunked = await streamEndlessly(endpoint, { ...xml, ...basic(USER, 'Veh1-wrong-2026!'), 'Transfer-Encoding': 'chunked' }, { waitCloseMs: 5000, firstChunkOnly: true });
    for (const [what, a] of [['256 MiB declared, no credential', declared], ['chunked, never ending, a wrong password', chunked]] as const) {
      assert.deepEqual({ status: a.status, contentType: a.contentType, body: a.body }, refused, what);
      assert.ok(a.answeredMs < PROMPT_MS, `${what}: answered after ${a.answeredMs} ms`);
      assert.equal(a.writtenAtAnswer, 64 * 1024, `${what}: answered after the first chunk`);
      assert.ok(a.closedAfterMs !== null, `${what}: the hub closed the connection rather than read on`);
    }
    // Headers only: a body announced but never sent is not waited for.
    const never = await new Promise<{ status: number; body: string; ms: number }>((resolve, reject) => {
      const t0 = Date.now();
      const req = http.request(endpoint, { method: 'POST', headers: { ...xml, 'Content-Length': '5000' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => { resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }); req.destroy(); });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(never.body, refused.body);
    assert.ok(never.ms < PROMPT_MS, `answered after ${never.ms} ms`);
  });

  it('with the right credential, reads the body up to the limit only', async () => {
    const a = await streamEndlessly(endpoint, { 'Content-Type': 'text/xml; charset=utf-8', ...basic(USER, PASSWORD), 'Transfer-Encoding': 'chunked' }, { waitCloseMs: 5000 });
    assert.equal(a.status, 500);
    assert.match(a.body, /请求超过 1048576 字节的上限/);
    assert.ok(a.writtenAtAnswer > SOAP_LIMIT);
    assert.ok(a.closedAfterMs !== null);
  });
});
