import assert from 'node:assert/strict';
import { SMS_DEMO_TOKEN, SmsGatewaySimulator, startSmsGateway } from './sms-gateway';

type Sent = { status: number; body: any; retryAfter: string | null };

async function post(gw: SmsGatewaySimulator, body: unknown, token = SMS_DEMO_TOKEN, signal?: AbortSignal): Promise<Sent> {
  const r = await fetch(`${gw.url}/sms/v1/messages`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal,
  });
  return { status: r.status, body: await r.json(), retryAfter: r.headers.get('retry-after') };
}

const status = (n: number, extra: Record<string, unknown> = {}) => ({
  requestId: `130100202611240000000010-ACCEPTED-${n}`, mobile: '13831100425', template: 'CASE_STATUS',
  params: { code: '130100202611240000000010', item: '机动车注册登记', status: '已受理' }, ...extra,
});

describe('simulators: the SMS gateway', () => {
  let gw: SmsGatewaySimulator;
  afterEach(async () => gw?.close());

  it('takes a message (202 with its messageId), drops a requestId it took before, and records what each mobile received', async () => {
    gw = await startSmsGateway();
    const first = await post(gw, status(1));
    assert.equal(first.status, 202);
    assert.match(first.body.messageId, /^sms-1-/);
    const again = await post(gw, status(1));
    assert.deepEqual([again.status, again.body.messageId], [202, first.body.messageId], 'the first messageId again');
    assert.equal((await post(gw, status(2, { mobile: '13931100426' }))).status, 202);
    assert.equal(gw.duplicates, 1);
    assert.deepEqual(gw.messagesTo('13831100425').map((m) => m.requestId), [status(1).requestId]);
    assert.equal(gw.messages().length, 2);
  });

  it('refuses an unknown token (401), and a message it cannot send (400): a mobile not normalised, an evaluation without its link', async () => {
    gw = await startSmsGateway();
    assert.equal((await post(gw, status(1), 'wrong-token')).status, 401);
    assert.equal((await post(gw, status(2, { mobile: '+86 138-3110-0425' }))).status, 400);
    assert.equal((await post(gw, status(3, { mobile: '031187654321' }))).status, 400, 'a landline');
    const noLink = await post(gw, status(4, { template: 'CASE_EVALUATE' }));
    assert.deepEqual([noLink.status, noLink.body.error], [400, 'CASE_EVALUATE needs params.link, the evaluation address']);
    assert.equal((await post(gw, status(5, { template: 'CASE_EVALUATE', params: { ...status(5).params, status: '已办结', link: 'http://127.0.0.1:8080/e/abc' } }))).status, 202);
    assert.equal(gw.messages().length, 1);
  });

  it('holds its limit of so many messages a second: 429 with a Retry-After', async () => {
    gw = await startSmsGateway({ ratePerSecond: 5 });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(gw, status(i))));
    assert.deepEqual(answers.map((a) => a.status).sort(), [202, 202, 202, 202, 202, 429, 429, 429]);
    assert.ok(answers.filter((a) => a.status === 429).every((a) => a.retryAfter === '1'));
    await new Promise((r) => setTimeout(r, 1050));
    assert.equal((await post(gw, status(9))).status, 202, 'a second later it takes messages again');
  });

  it('fails as told: 503 for some requests, then 429 with a given Retry-After for a time, then hangs (taking the message), then recovers', async () => {
    gw = await startSmsGateway();
    gw.fail([{ answer: 503, requests: 2 }, { answer: 429, retryAfterSeconds: 7, ms: 150 }, { answer: 'hang', accept: true, requests: 1 }]);
    assert.equal((await post(gw, status(1))).status, 503);
    assert.equal((await post(gw, status(1))).status, 503);
    const throttled = await post(gw, status(1));
    assert.deepEqual([throttled.status, throttled.retryAfter], [429, '7']);
    await new Promise((r) => setTimeout(r, 200));
    // No answer: the caller gives up; the message was taken all the same.
    await assert.rejects(post(gw, status(1), SMS_DEMO_TOKEN, AbortSignal.timeout(200)));
    assert.equal(gw.messages().length, 1);
    const resent = await post(gw, status(1));
    assert.deepEqual([resent.status, resent.body.messageId], [202, gw.messages()[0].messageId], 'the resend is dropped as a duplicate');
    assert.deepEqual(gw.requests().map((r) => r.answer), [503, 503, 429, 'hang', 202]);
    gw.fail([{ answer: 503, ms: 10_000 }]);
    assert.equal((await post(gw, status(2))).status, 503);
    gw.recover();
    assert.equal((await post(gw, status(2))).status, 202);
  });
});
