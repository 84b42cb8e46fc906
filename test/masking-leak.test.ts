import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { postBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { toHalfWidth } from '../core/identifiers/half-width';
import { startTestHub, TestHub, OPERATOR, getJson } from './support/hub';

// Regression: a citizen ID typed in full-width digits, refused for its check character, was shown
// in full to the operator in the dead letters, because masking matched ASCII digits only.

const WIDE_ID = '１３０１０２１９７５１２０８６２３４'; // 130102197512086234: the check character should be 1
const ID = '130102197512086234';
const WIDE_MOBILE = '＋８６ １３８ ３１１０ ０４２５ ６'; // 12 digits after +86: refused for its length
const MOBILE_DIGITS = '138311004256';
const MOBILE = MOBILE_DIGITS.slice(0, 11);

/** The answer as one would search it: ASCII digits, no spaces or dashes. */
const searchable = (s: string) => toHalfWidth(s).replace(/[\s\-\u2010-\u2015\u2212()]/g, '').toUpperCase();

function event(applicant: Record<string, unknown>): MarketEvent {
  return {
    eventId: randomUUID(), caseNo: `SJLEAK${Date.now()}${Math.floor(Math.random() * 1e6)}`, itemCode: 'SCJG-DJ-002', status: 'SUBMITTED',
    statusTime: '2026-11-24T09:00:00+08:00', applicant, officer: null, supervisionCode: null, remark: null,
  } as MarketEvent;
}

describe('masking of personal data refused by a department', function () {
  this.timeout(120_000);
  let t: TestHub;
  before(async () => { t = await startTestHub('embedded'); });
  after(async () => { await t?.stop(); });

  // The hub's log is not checked here: startTestHub builds its own logger (to stdout) and takes
  // none from the test.
  it('a full-width ID number refused by market regulation is masked in the dead letters', async () => {
    const r = await postBatch(`${t.url}/api/v1/inbound/market-regulation`, {
      batchId: `b-${randomUUID()}`,
      events: [
        event({ type: 'PERSON', name: '刘芳', idNumber: WIDE_ID, mobile: null }),
        event({ type: 'ENTERPRISE', name: '石家庄恒泰商贸有限公司', creditCode: '91130100MA0CK3L52K', mobile: WIDE_MOBILE }),
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const results = (r.body as any).results;
    assert.deepEqual(results.map((x: any) => [x.result, x.field]), [['rejected', 'applicant.idNumber'], ['rejected', 'applicant.mobile']]);

    const dl = await getJson(`${t.url}/api/v1/dead-letters?adapter=market-regulation`, OPERATOR);
    assert.equal(dl.status, 200);
    const text = JSON.stringify(dl.body);
    const seen = searchable(text);
    for (const secret of [ID, MOBILE, MOBILE_DIGITS]) assert.ok(!seen.includes(secret), `dead letters show ${secret}: ${text}`);

    const byField = (f: string) => dl.body.items.find((d: any) => d.field === f);
    assert.ok(byField('applicant.idNumber') && byField('applicant.mobile'), text);
    assert.equal(byField('applicant.idNumber').value, '1301**********6234');
    assert.equal(byField('applicant.mobile').value, '＋８６ 138*****4256');
  });
});
