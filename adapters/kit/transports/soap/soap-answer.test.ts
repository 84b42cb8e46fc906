import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as soap from 'soap';
import { ROOT } from '../../../../core/kernel/paths';
import { ConfigError } from '../../../../core/kernel/errors';
import { AnswerWriter, answerFieldPaths } from './soap-answer';
import { createSoapServer } from './soap-wsdl';
import type { DescribedShape } from './soap-shape';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'nested-answer');
const WSDL_FILE = path.join(FIXTURE, 'approval.wsdl');
const WHERE = 'nested-answer: adapter.yaml transport.options.push.answer';

/** The push operation's output as node-soap describes the fixture's WSDL (pushApprovalResponse/return/{caseCode,code,message}). */
async function describedOutput(file: string, service: string, port: string, operation: string): Promise<DescribedShape> {
  const w = await new Promise<soap.WSDL>((resolve, reject) => {
    const wsdl = new soap.WSDL(fs.readFileSync(file, 'utf8'), file, {});
    wsdl.onReady((err) => (err ? reject(err) : resolve(wsdl)));
  });
  return (w.describeServices() as any)[service][port][operation].output;
}

const nested = () => describedOutput(WSDL_FILE, 'ApprovalPushService', 'ApprovalPushPort', 'pushApproval');

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('the answer fields were taken');
}

describe('soap-answer: the push answer, with fields at paths, in the schema\'s order', () => {
  it('fills nested fields and writes them in the schema\'s order, not the definition\'s', async () => {
    const output = await nested();
    // The definition names code, message, case code; the schema has caseCode, code, message.
    const writer = new AnswerWriter(output, { codeField: 'return.code', messageField: 'return.message', caseCodeField: 'return.caseCode' }, WHERE, 'pushApprovalResponse');
    const answer = writer.write({ code: '0000', message: '接收成功', caseCode: '13010024112400001A' });
    assert.deepEqual(answer, { return: { caseCode: '13010024112400001A', code: '0000', message: '接收成功' } });
    assert.deepEqual(Object.keys(answer.return as object), ['caseCode', 'code', 'message']);
  });

  it('is written by node-soap as the department\'s schema has it: nested, unqualified, in sequence', async () => {
    const xml = fs.readFileSync(WSDL_FILE, 'utf8');
    const output = await nested();
    const writer = new AnswerWriter(output, { messageField: 'return.message', codeField: 'return.code' }, WHERE, 'pushApprovalResponse');
    const server = await createSoapServer({
      path: '/approval', xml,
      services: { ApprovalPushService: { ApprovalPushPort: { pushApproval: () => writer.write({ code: 'E001', message: '办理状态未知', caseCode: '' }) } } },
    });
    const request = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ap:pushApproval xmlns:ap="urn:example:approval:push:v1">' +
      '<arg0><applyNo>SP-1</applyNo></arg0></ap:pushApproval></s:Body></s:Envelope>';
    const r = await server.processRequest(request, { url: '/approval', headers: { 'content-type': 'text/xml; charset=utf-8' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.match(r.body, /<tns:pushApprovalResponse><return><code>E001<\/code><message>办理状态未知<\/message><\/return><\/tns:pushApprovalResponse>/);
  });

  it('keeps a flat answer as it was (the vehicle office\'s FHDM, FHXX, JGM)', async () => {
    const output = await describedOutput(path.join(ROOT, 'adapters', 'vehicle-office', 'exchange.wsdl'), 'VehicleExchangeService', 'VehicleExchangePort', 'ReportCaseStatus');
    const writer = new AnswerWriter(output, { caseCodeField: 'JGM', messageField: 'FHXX', codeField: 'FHDM' }, WHERE, 'ReportCaseStatusResponse');
    assert.deepEqual(Object.entries(writer.write({ code: 1, message: '接收成功', caseCode: 'X' })), [['FHDM', 1], ['FHXX', '接收成功'], ['JGM', 'X']]);
  });

  it('refuses, when the adapter is loaded, a path the answer does not have, naming every path it has', async () => {
    const output = await nested();
    assert.deepEqual(answerFieldPaths(output), ['return.caseCode', 'return.code', 'return.message']);
    const message = refusal(() => new AnswerWriter(output, { codeField: 'code', messageField: 'return.message' }, WHERE, 'pushApprovalResponse'));
    assert.equal(message, `${WHERE}.codeField: pushApprovalResponse has no field code (its fields, as paths: return.caseCode, return.code, return.message)`);
    assert.match(refusal(() => new AnswerWriter(output, { codeField: 'return.code', messageField: 'return.msg' }, WHERE, 'pushApprovalResponse')), /\.messageField: pushApprovalResponse has no field return\.msg/);
    assert.match(refusal(() => new AnswerWriter(output, { codeField: 'return.code.value', messageField: 'return.message' }, WHERE, 'pushApprovalResponse')), /has no field return\.code\.value/);
  });

  it('refuses a path to an element that holds other elements, and one field filled twice', async () => {
    const output = await nested();
    assert.equal(
      refusal(() => new AnswerWriter(output, { codeField: 'return', messageField: 'return.message' }, WHERE, 'pushApprovalResponse')),
      `${WHERE}.codeField: return in pushApprovalResponse is an element with fields of its own; name one of them (return.caseCode, return.code, return.message)`,
    );
    assert.match(refusal(() => new AnswerWriter(output, { codeField: 'return.code', messageField: 'return.code' }, WHERE, 'pushApprovalResponse')), /\.messageField: return\.code is already the answer's codeField/);
  });

  it('takes an element whose own name has a dot', () => {
    const output: DescribedShape = { 'res.code': 'xs:string', res: { message: 'xs:string', targetNSAlias: 't', targetNamespace: 'urn:t' }, targetNSAlias: 't', targetNamespace: 'urn:t' };
    const writer = new AnswerWriter(output, { codeField: 'res.code', messageField: 'res.message' }, WHERE, 'Answer');
    assert.deepEqual(writer.write({ code: 1, message: 'ok', caseCode: '' }), { 'res.code': 1, res: { message: 'ok' } });
  });
});
