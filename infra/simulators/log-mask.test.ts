import assert from 'node:assert/strict';
import { toHalfWidth } from '../../core/identifiers/half-width';
import { maskIdNumber, maskPhone } from '../../core/identifiers/mask';
import { formattedMobile, person, toFullWidthDigits } from './identities';
import { maskedIdNumber, maskedPhone } from './log-mask';
import { Random } from './random';

describe('simulators: log masks', () => {
  it('hides the middle of ID numbers and phones however they are typed', () => {
    assert.equal(maskedIdNumber('130105197806241283'), '1301**********1283');
    assert.equal(maskedIdNumber(toFullWidthDigits('130105197806241283')), '1301**********1283');
    assert.equal(maskedPhone('+86 138-3311-0425'), '138****0425');
    assert.equal(maskedPhone('12345'), '*****');
  });

  // A log line masked differently by a simulator and by the hub would make one person's data
  // look like two people's to whoever compares them.
  it('masks as the hub masks', () => {
    const rng = new Random('log-mask');
    for (let i = 0; i < 300; i++) {
      const id = person(rng).idNumber;
      const typed = rng.chance(0.3) ? toFullWidthDigits(id) : id;
      assert.equal(maskedIdNumber(typed), maskIdNumber(toHalfWidth(typed)));
      const phone = formattedMobile(rng);
      assert.equal(maskedPhone(phone), maskPhone(phone.replace(/^\+86|[\s-]/g, '')));
    }
  });
});
