import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { toHalfWidth } from './half-width';

describe('toHalfWidth', () => {
  it('folds full-width digits, letters, punctuation and the ideographic space', () => {
    assert.equal(toHalfWidth('１３８\u3000ＡＢｘ－（）＋'), '138 ABx-()+');
  });

  it('leaves Chinese characters and ASCII alone', () => {
    assert.equal(toHalfWidth('王建国·abc 123'), '王建国·abc 123');
  });

  it('maps every printable ASCII character from its full-width form', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) }), (ascii) => {
        const wide = [...ascii].map((ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)).join('');
        assert.equal(toHalfWidth(wide), ascii);
      }),
    );
  });
});
