import { strict as assert } from 'node:assert';
import * as normalisers from './index';
import { NORMALISER_NAMES, UnknownNormaliserError, getNormaliser, isNormaliserName } from './index';

describe('normaliser registry', () => {
  it('offers each normaliser under the name mapping profiles use', () => {
    assert.deepEqual([...NORMALISER_NAMES].sort(), ['citizenId', 'localTime', 'mobile', 'personName', 'phone', 'uscc']);
    assert.deepEqual(getNormaliser('citizenId')('１３０１０４１９９２１１０７３５２７'), { ok: true, value: '130104199211073527' });
    assert.deepEqual(getNormaliser('uscc')('91130100MA0CK3L52K'), { ok: true, value: '91130100MA0CK3L52K' });
    assert.deepEqual(getNormaliser('mobile')('138 3311 0425'), { ok: true, value: '13833110425' });
    assert.deepEqual(getNormaliser('phone')('0311-86688001'), { ok: true, value: { number: '031186688001', mobile: false } });
    assert.deepEqual(getNormaliser('personName')('阿依古丽·买买提'), { ok: true, value: '阿依古丽·买买提' });
    assert.deepEqual(getNormaliser('localTime')('2026-11-24T01:12:44Z'), { ok: true, value: '2026-11-24T09:12:44+08:00' });
  });

  it('passes a time format on to localTime', () => {
    const compact = getNormaliser('localTime', { format: 'yyyyMMddHHmmss' });
    assert.deepEqual(compact('20261124091502'), { ok: true, value: '2026-11-24T09:15:02+08:00' });
    assert.equal((compact('2026-11-24 09:15:02') as { rule: string }).rule, 'format');
    assert.throws(() => getNormaliser('localTime', { format: 'dd.MM.yyyy' as never }), /unknown format "dd.MM.yyyy"/);
  });

  it('throws a clear error for an unknown name', () => {
    assert.throws(
      () => getNormaliser('creditCode'),
      (e: unknown) =>
        e instanceof UnknownNormaliserError &&
        e.normaliser === 'creditCode' &&
        e.code === 'UNKNOWN_NORMALISER' &&
        e.message === 'unknown normaliser "creditCode"; known: citizenId, uscc, mobile, phone, personName, localTime',
    );
    assert.throws(() => getNormaliser('toString'), UnknownNormaliserError);
    assert.equal(isNormaliserName('constructor'), false);
    assert.equal(isNormaliserName('uscc'), true);
  });

  it('re-exports the normaliser modules', () => {
    for (const name of [
      'normaliseCitizenId', 'citizenIdCheckDigit', 'normaliseUscc', 'usccCheckChar', 'normalisePhone', 'normaliseMobile',
      'maskPhone', 'maskIdNumber', 'normaliseName', 'normaliseLocalTime', 'beijingDate', 'createDepartmentResolver',
      'mod31CheckChar', 'toHalfWidth', 'accept', 'refuse',
    ]) {
      assert.equal(typeof (normalisers as Record<string, unknown>)[name], 'function', name);
    }
    assert.equal(normalisers.MOD31_ALPHABET, '0123456789ABCDEFGHJKLMNPQRTUWXY');
  });
});
