import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import YAML from 'yaml';
import { XMLParser } from 'fast-xml-parser';
import { httpPost } from '../infra/simulators/http-post';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { ROOT, CONTRACTS_DIR } from '../core/kernel/paths';
import { startHub, RunningHub } from '../cli/start-hub';
import { STORES, testDataDir, getJson, SUPERVISOR } from './support/hub';
import { createTestDatabase } from './support/servers';

// A SOAP department onboarded from its folder alone: a JAX-WS style WSDL whose answer is nested
// (pushApprovalResponse/return/{caseCode,code,message}), HTTP Basic, a constant applicant ID type.
const FOLDER = path.join(ROOT, 'test', 'fixtures', 'nested-answer');
const ADAPTER = 'nested-answer';
const PASSWORD = 'Approval-demo-2026';
const answers = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false });

function hubCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'hub.js'), ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// The same department, authenticating with a WS-Security UsernameToken instead.
const WSSE_ADAPTER = 'nested-answer-wsse';
function wsseFolder(root: string): string {
  const dir = path.join(root, WSSE_ADAPTER);
  fs.cpSync(FOLDER, dir, { recursive: true });
  const edit = (file: string, from: string, to: string) => {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    assert.ok(text.includes(from), `${file} has ${from}`);
    fs.writeFileSync(path.join(dir, file), text.replace(from, to));
  };
  edit('adapter.yaml', 'id: nested-answer', `id: ${WSSE_ADAPTER}`);
  edit('adapter.yaml', 'scheme: http-basic', 'scheme: wsse-username-token');
  edit('adapter.yaml', 'encodings: [utf-8]', 'soapAction: urn:example:approval:push:v1/pushApproval\n      encodings: [utf-8]');
  edit('mapping.yaml', 'adapter: nested-answer', `adapter: ${WSSE_ADAPTER}`);
  return dir;
}
const withToken = (body: Buffer, user: string, password: string) => Buffer.from(body.toString('utf8').replace('<soapenv:Body>',
  '<soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>' +
  `<wsse:Username>${user}</wsse:Username><wsse:Password>${password}</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body>`));

const sample = (name: string) => fs.readFileSync(path.join(FOLDER, 'samples', name));
const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('a SOAP department with a nested answer is a folder: the kit\'s tools take it', function () {
  this.timeout(60_000);

  it('passes `hub adapter test`', async () => {
    const r = await hubCli(['adapter', 'test', FOLDER]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 samples passed, 0 failed/);
  });

  it('maps a pushed request with `hub map`', async () => {
    const r = await hubCli(['map', FOLDER, path.join(FOLDER, 'samples', '01-accepted.xml')]);
    assert.equal(r.code, 0, r.stderr);
    const [record] = JSON.parse(r.stdout).records;
    assert.equal(record.event.data.localCaseId, 'SP-2026-000117');
    assert.equal(record.event.data.applicant.idType, 'USCC');
  });

  it('names the answer\'s paths when a field is not one of them, in `hub adapter test`', async () => {
    const copy = path.join(testDataDir('soap-nested-wrong', { store: 'none' }), ADAPTER);
    fs.cpSync(FOLDER, copy, { recursive: true });
    const file = path.join(copy, 'adapter.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('codeField: return.code', 'codeField: code'));
    const r = await hubCli(['adapter', 'test', copy]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /codeField: pushApprovalResponse has no field code \(its fields, as paths: return\.caseCode, return\.code, return\.message\)/);
  });
});

for (const store of STORES) {
  describe(`a SOAP department with a nested answer, served by the hub (${store} store)`, function () {
    this.timeout(120_000);
    let hub: RunningHub;
    let drop: (() => Promise<void>) | undefined;
    let url: string;

    before(async () => {
      const root = testDataDir(`soap-nested-${store}`);
      const registry = YAML.parse(fs.readFileSync(path.join(CONTRACTS_DIR, 'registry.yaml'), 'utf8'));
      registry.departments.find((d: { code: string }) => d.code === '11130100000500117D').systems.push(ADAPTER, WSSE_ADAPTER);
      fs.writeFileSync(path.join(root, 'registry.yaml'), YAML.stringify(registry));
      fs.copyFileSync(path.join(CONTRACTS_DIR, 'catalogue.yaml'), path.join(root, 'catalogue.yaml'));
      fs.writeFileSync(path.join(root, 'hub.yaml'), YAML.stringify({
        region: '130100', registry: 'registry.yaml', catalogue: 'catalogue.yaml',
        tokens: [{ name: 'supervisor', token: 'demo-supervisor-token', roles: ['supervisor'] }],
        adapters: [{ id: ADAPTER, dir: FOLDER }, { id: WSSE_ADAPTER, dir: wsseFolder(root) }],
      }));
      const db = store === 'postgres' ? await createTestDatabase() : null;
      drop = db?.drop;
      const config = loadConfig({ HUB_CONFIG: path.join(root, 'hub.yaml'), HUB_HTTP_PORT: '0', HUB_DATA_DIR: root, HUB_STORE: db ? db.url : 'embedded', HUB_LOG_LEVEL: 'silent' });
      hub = await startHub(config, createLogger('silent'));
      url = `${hub.url}/soap/${ADAPTER}`;
    });

    after(async () => {
      await hub?.stop();
      await drop?.();
    });

    const call = async (body: Buffer, headers: Record<string, string>, to = url) => {
      const r = await httpPost(to, body, { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""', ...headers });
      const text = r.body.toString('utf8');
      return { status: r.status, text, body: answers.parse(text)?.Envelope?.Body };
    };
    const stored = async () => Number((await hub.context.store.driver.query<{ n: string }>('SELECT count(*) AS n FROM inbox WHERE adapter = $1', [ADAPTER])).rows[0].n);

    it('answers in the nested element, in the schema\'s order, and the case is in the API; a resend gets the same case code', async () => {
      const first = await call(sample('01-accepted.xml'), basic('approval-gw', PASSWORD));
      assert.equal(first.status, 200, first.text);
      const result = first.body.pushApprovalResponse.return;
      assert.equal(result.code, '0000');
      assert.equal(result.message, '接收成功');
      assert.match(first.text, /<return><caseCode>[^<]+<\/caseCode><code>0000<\/code><message>接收成功<\/message><\/return>/, 'caseCode, code, message: the schema\'s sequence');
      const view = await getJson(`${hub.url}/api/v1/cases/${result.caseCode}`, SUPERVISOR);
      assert.equal(view.status, 200, JSON.stringify(view.body));
      assert.deepEqual(view.body.references, [{ system: ADAPTER, localId: 'SP-2026-000117' }]);
      assert.equal(view.body.status, 'ACCEPTED');
      const again = await call(sample('01-accepted.xml'), basic('approval-gw', PASSWORD));
      assert.equal(again.body.pushApprovalResponse.return.code, '0000');
      assert.equal(again.body.pushApprovalResponse.return.caseCode, result.caseCode);
    });

    it('answers a refused record with the rejected code and its reason in the nested message, and no case code', async () => {
      const refused = await call(sample('02-refused-unknown-state.xml'), basic('approval-gw', PASSWORD));
      assert.equal(refused.status, 200, refused.text);
      assert.equal(refused.body.pushApprovalResponse.return.code, 'E001');
      assert.match(refused.body.pushApprovalResponse.return.message, /^办理状态未知: 55/);
      assert.match(refused.text, /<return><caseCode\/?>(<\/caseCode>)?<code>E001<\/code>/);
    });

    it('checks HTTP Basic credentials before the body: a malformed or foreign body with wrong ones gets the authentication Fault', async () => {
      const before = await stored();
      const malformed = Buffer.from('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ap:pushApproval');
      const wrong = await call(malformed, basic('approval-gw', 'not-the-password'));
      assert.equal(wrong.status, 500);
      assert.equal(wrong.body.Fault.faultcode, 'soap:Client');
      assert.match(wrong.body.Fault.faultstring, /^认证失败：用户名或密码错误/);
      const unknown = await call(malformed, basic('someone-else', PASSWORD));
      assert.equal(unknown.body.Fault.faultstring, wrong.body.Fault.faultstring, 'an unknown user is told the same');
      const none = await call(malformed, {});
      assert.equal(none.body.Fault.faultstring, wrong.body.Fault.faultstring, 'no credentials are told the same as wrong ones');
      // A DTD, a charset the department does not use, another operation: all answered as unauthenticated.
      const dtd = await call(Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'), basic('approval-gw', 'not-the-password'));
      assert.match(dtd.body.Fault.faultstring, /^认证失败/);
      const gbk = await call(sample('01-accepted.xml'), { ...basic('approval-gw', 'not-the-password'), 'Content-Type': 'text/xml; charset=GBK' });
      assert.match(gbk.body.Fault.faultstring, /^认证失败/);
      // With the right password the same malformed body gets the parser's Fault.
      const parsed = await call(malformed, basic('approval-gw', PASSWORD));
      assert.equal(parsed.body.Fault.faultcode, 'soap:Client');
      assert.match(parsed.body.Fault.faultstring, /^请求不是格式正确的 XML/);
      assert.equal(await stored(), before, 'nothing refused was stored');
    });

    it('checks a WS-Security UsernameToken as soon as the envelope is read: before the operation, the SOAPAction and the schema', async () => {
      const to = `${hub.url}/soap/${WSSE_ADAPTER}`;
      const accepted = await call(withToken(sample('01-accepted.xml'), 'approval-gw', PASSWORD), {}, to);
      assert.equal(accepted.body?.pushApprovalResponse?.return?.code, '0000', accepted.text);
      const otherOperation = (password: string) => withToken(Buffer.from(sample('01-accepted.xml').toString('utf8').replace(/ap:pushApproval>/g, 'ap:queryApproval>')), 'approval-gw', password);
      const unknownElement = (password: string) => withToken(Buffer.from(sample('01-accepted.xml').toString('utf8').replace('<state>', '<branch>x</branch><state>')), 'approval-gw', password);
      const faultOf = async (body: Buffer, headers: Record<string, string> = {}) => (await call(body, headers, to)).body.Fault.faultstring as string;
      assert.match(await faultOf(otherOperation('not-the-password')), /^认证失败/);
      assert.match(await faultOf(otherOperation(PASSWORD)), /^不支持的操作/);
      assert.match(await faultOf(withToken(sample('01-accepted.xml'), 'approval-gw', 'not-the-password'), { SOAPAction: '"urn:other"' }), /^认证失败/);
      assert.match(await faultOf(withToken(sample('01-accepted.xml'), 'approval-gw', PASSWORD), { SOAPAction: '"urn:other"' }), /^不支持的 SOAPAction/);
      assert.match(await faultOf(unknownElement('not-the-password')), /^认证失败/);
      assert.match(await faultOf(unknownElement(PASSWORD)), /^请求与 WSDL 不符: 未知元素 arg0\.branch/);
      // A body that is not XML carries no credentials that could be read: the authentication Fault, no word of the parser.
      assert.match(await faultOf(Buffer.from('<soapenv:Envelope')), /^认证失败/);
    });
  });
}
