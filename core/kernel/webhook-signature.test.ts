import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  BAD_SIGNATURE, WEBHOOK_SIGNATURE_HEADERS, checkSignatureHeaders, readSignatureHeaders, signWebhook, signatureMatches, verifyWebhook, webhookSignatureHeaders,
} from './webhook-signature';

const SECRET = 'subscriber-secret-0001';
const TS = 1795600000;
const BODY = Buffer.from('{"id":"e-1","subject":"130100202611240000000010"}', 'utf8');
const keyOf = (keyId: string) => (keyId === 'k1' ? SECRET : undefined);

/** The signature as the SPEC defines it, computed here with node:crypto rather than with the module. */
function reference(body: Buffer, secret: string, ts: number | string): string {
  return `sha256=${createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${ts}.`, 'utf8'), body])).digest('hex')}`;
}

const signed = (body = BODY, ts = TS, secret = SECRET) => ({ keyId: 'k1', timestamp: String(ts), signature: reference(body, secret, ts), body });

describe('webhook signature', () => {
  it('signs `timestamp.body` with HMAC-SHA256, as node:crypto and openssl compute it', () => {
    // From `printf '1795600000.<body>' | openssl dgst -sha256 -hmac subscriber-secret-0001`.
    const openssl = 'sha256=a8926ff8bba456091bb5e64d2d6d10c4c7031193e0d734ecc1a1a5c5c46d86dd';
    assert.equal(reference(BODY, SECRET, TS), openssl);
    assert.equal(signWebhook(BODY, SECRET, TS), openssl);
    assert.equal(signWebhook(BODY.toString('utf8'), SECRET, TS), openssl, 'a string body is its UTF-8 bytes');
    assert.equal(signWebhook(BODY, SECRET, TS, { prefix: 'v1=' }), `v1=${openssl.slice('sha256='.length)}`);
    const chinese = '{"name":"石家庄市市场监督管理局"}';
    assert.equal(signWebhook(chinese, SECRET, TS), reference(Buffer.from(chinese, 'utf8'), SECRET, TS));
  });

  it('makes and reads the three headers under their constant names, whatever their case on the wire', () => {
    const headers = webhookSignatureHeaders(BODY, 'k1', SECRET, TS);
    assert.deepEqual(Object.keys(headers), [WEBHOOK_SIGNATURE_HEADERS.keyId, WEBHOOK_SIGNATURE_HEADERS.timestamp, WEBHOOK_SIGNATURE_HEADERS.signature]);
    // Node gives a request's header names in lower case.
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const read = readSignatureHeaders({ ...lower, 'x-hub-key-id': ['k1', 'k2'] } as never);
    assert.deepEqual(read, { keyId: 'k1', timestamp: String(TS), signature: reference(BODY, SECRET, TS) });
    assert.deepEqual(verifyWebhook({ ...read, body: BODY }, keyOf, { nowSeconds: TS }), { ok: true, keyId: 'k1' });
  });

  it('refuses each way a request can be wrong, with its own type', () => {
    const now = { nowSeconds: TS };
    const cases: [string, Parameters<typeof verifyWebhook>[0], string, RegExp][] = [
      ['no key id', { ...signed(), keyId: undefined }, 'missing-signature', /X-Hub-Key-Id, X-Hub-Timestamp and X-Hub-Signature are required/],
      ['no timestamp', { ...signed(), timestamp: '' }, 'missing-signature', /required/],
      ['no signature', { ...signed(), signature: undefined }, 'missing-signature', /required/],
      ['an unknown key id', { ...signed(), keyId: 'k9' }, 'unknown-key', /unknown key id "k9"/],
      ['a timestamp in milliseconds with a fraction', { ...signed(), timestamp: '1795600000.5' }, 'bad-timestamp', /X-Hub-Timestamp must be Unix seconds/],
      ['a negative timestamp', { ...signed(), timestamp: '-1' }, 'bad-timestamp', /Unix seconds/],
      ['a timestamp in ISO 8601', { ...signed(), timestamp: '2026-11-24T09:12:44+08:00' }, 'bad-timestamp', /Unix seconds/],
      ['another secret', signed(BODY, TS, 'another-secret-0002'), 'bad-signature', /does not match the body/],
      ['upper-case hex', { ...signed(), signature: signed().signature.toUpperCase().replace('SHA256=', 'sha256=') }, 'bad-signature', /does not match/],
      ['no prefix', { ...signed(), signature: signed().signature.slice('sha256='.length) }, 'bad-signature', /does not match/],
      // A signature captured at one time and sent again with a fresh timestamp: the timestamp is signed.
      ['a replay under a new timestamp', { ...signed(BODY, TS - 1000), timestamp: String(TS) }, 'bad-signature', /does not match/],
    ];
    for (const [what, input, type, detail] of cases) {
      const out = verifyWebhook(input, keyOf, now);
      assert.equal(out.ok, false, what);
      if (out.ok) continue;
      assert.equal(out.type, type, what);
      assert.match(out.detail, detail, what);
    }
  });

  it('takes a timestamp up to maxSkewSeconds away, either way, and refuses one a second beyond, naming the skew', () => {
    for (const ts of [TS - 300, TS + 300]) assert.deepEqual(verifyWebhook(signed(BODY, ts), keyOf, { nowSeconds: TS }), { ok: true, keyId: 'k1' });
    for (const ts of [TS - 301, TS + 301]) {
      const out = verifyWebhook(signed(BODY, ts), keyOf, { nowSeconds: TS });
      assert.deepEqual(out, { ok: false, type: 'stale-timestamp', detail: "timestamp is 301 s away from the hub's clock (limit 300 s)" });
    }
    const narrow = verifyWebhook(signed(BODY, TS - 31), keyOf, { nowSeconds: TS, maxSkewSeconds: 30, clockName: "the subscriber's clock" });
    assert.deepEqual(narrow, { ok: false, type: 'stale-timestamp', detail: "timestamp is 31 s away from the subscriber's clock (limit 30 s)" });
    // Without nowSeconds, the verifier's own clock.
    const fresh = Math.floor(Date.now() / 1000);
    assert.equal(verifyWebhook(signed(BODY, fresh), keyOf).ok, true);
    assert.equal(verifyWebhook(signed(BODY, fresh - 400), keyOf).ok, false);
  });

  it('refuses a body with any one byte flipped, or one byte more or less', () => {
    const input = signed();
    for (let i = 0; i < BODY.length; i++) {
      const flipped = Buffer.from(BODY);
      flipped[i] ^= 0x01;
      assert.deepEqual(verifyWebhook({ ...input, body: flipped }, keyOf, { nowSeconds: TS }), BAD_SIGNATURE, `byte ${i}`);
    }
    assert.deepEqual(verifyWebhook({ ...input, body: Buffer.concat([BODY, Buffer.from('\n')]) }, keyOf, { nowSeconds: TS }), BAD_SIGNATURE);
    assert.deepEqual(verifyWebhook({ ...input, body: BODY.subarray(1) }, keyOf, { nowSeconds: TS }), BAD_SIGNATURE);
  });

  it('splits into a header check, before the body is read, and a body check', () => {
    const headers = signed();
    const signer = checkSignatureHeaders(headers, keyOf, { nowSeconds: TS });
    assert.ok(signer.ok);
    assert.deepEqual(signer, { ok: true, keyId: 'k1', secret: SECRET, timestamp: String(TS), signature: headers.signature });
    assert.equal(signatureMatches(signer, BODY), true);
    assert.equal(signatureMatches(signer, Buffer.from('{}')), false);
    assert.equal(signatureMatches({ ...signer, signature: 'sha256=' }, BODY), false, 'a shorter signature is no match, not an error');
    // The names a refusal gives are the receiver's own, when it was configured with others.
    const names = { keyId: 'x-key', timestamp: 'x-time', signature: 'x-sig' };
    const missing = checkSignatureHeaders({}, keyOf, { headerNames: names });
    assert.deepEqual(missing, { ok: false, type: 'missing-signature', detail: 'headers x-key, x-time and x-sig are required' });
    assert.deepEqual(readSignatureHeaders({ 'x-key': 'k1', 'x-time': '1', 'x-sig': 's' }, names), { keyId: 'k1', timestamp: '1', signature: 's' });
  });

  it('knows no key whose secret is empty', () => {
    const out = verifyWebhook({ ...signed(BODY, TS, ''), keyId: 'blank' }, (k) => (k === 'blank' ? '' : undefined), { nowSeconds: TS });
    assert.deepEqual(out, { ok: false, type: 'unknown-key', detail: 'unknown key id "blank"' });
  });
});
