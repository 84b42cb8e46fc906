import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maskPersonalData, maskText } from './personal-data';

const mobile = fc.tuple(fc.constantFrom('3', '4', '5', '6', '7', '8', '9'), fc.stringMatching(/^\d{9}$/)).map(([b, rest]) => `1${b}${rest}`);
const citizenId = fc.tuple(fc.stringMatching(/^\d{17}$/), fc.constantFrom('0', '7', 'X')).map(([d, c]) => d + c);
// Text around personal data in reasons and remarks: Chinese, spaces, punctuation, never a letter or digit touching it.
const around = fc.array(fc.constantFrom('电', '话', '号', '码', '：', ':', ' ', '，', '(', ')', '/', '经办人'), { maxLength: 6 }).map((a) => a.join(''));

describe('personal data masking', () => {
  it('masks every mobile and citizen ID number in free text', () => {
    fc.assert(fc.property(around, fc.oneof(mobile, citizenId), around, (before, secret, after) => {
      const out = maskText(`${before}${secret}${after}`);
      assert.ok(!out.includes(secret), out);
      assert.ok(out.startsWith(before) && out.endsWith(after), out);
    }), { numRuns: 500 });
  });

  it('leaves the hub\'s own identifiers as they are, whatever digits they hold', () => {
    fc.assert(fc.property(fc.uuid(), (id) => {
      assert.equal(maskText(id), id);
      assert.deepEqual(maskPersonalData({ id, rawMessageId: id, reason: `记录 ${id} 不予处理` }), { id, rawMessageId: id, reason: `记录 ${id} 不予处理` });
    }), { numRuns: 2000 });
    // The message id a dead letter once showed with its digits masked.
    assert.equal(maskText('bd619044-6001-4bbb-8ab7-17883356998d'), 'bd619044-6001-4bbb-8ab7-17883356998d');
  });
});
