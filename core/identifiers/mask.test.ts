import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { maskIdNumber, maskPhone } from './mask';

describe('masking personal data', () => {
  it('masks a mobile to its prefix and last four digits', () => {
    assert.equal(maskPhone('13833110425'), '138****0425');
    assert.equal(maskPhone('031186688001'), '031*****8001');
  });

  it('masks an ID number to its first and last four characters', () => {
    assert.equal(maskIdNumber('130105197806241283'), '1301**********1283');
    assert.equal(maskIdNumber('11010519491231002X'), '1101**********002X');
    assert.equal(maskIdNumber('91130100MA0CK3L52K'), '9113**********L52K');
  });

  it('masks short values entirely', () => {
    assert.equal(maskPhone('1234567'), '*******');
    assert.equal(maskIdNumber('E1234567'), '********');
    assert.equal(maskIdNumber(''), '');
  });

  it('keeps the length and never shows more than the two ends', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Z]{0,30}$/), (s) => {
        const id = maskIdNumber(s);
        const phone = maskPhone(s);
        assert.equal(id.length, s.length);
        assert.equal(phone.length, s.length);
        assert.ok(id.replace(/\*/g, '').length <= 8);
        assert.ok(phone.replace(/\*/g, '').length <= 7);
      }),
    );
  });
});
