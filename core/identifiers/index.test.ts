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

  it('passes a time format and zone on to localTime', () => {
    const compact = getNormaliser('localTime', { format: 'yyyyMMddHHmmss' });
    assert.deepEqual(compact('20261124091502'), { ok: true, value: '2026-11-24T09:15:02+08:00' });
    assert.equal((compact('2026-11-24 09:15:02') as { rule: string }).rule, 'format');
    assert.deepEqual(getNormaliser('localTime', { format: 'dd.MM.yyyy HH:mm' })('24.11.2026 09:15'), { ok: true, value: '2026-11-24T09:15:00+08:00' });
    assert.deepEqual(getNormaliser('localTime', { format: 'iso8601', zone: 'UTC' })('2026-11-24T01:15:00'), { ok: true, value: '2026-11-24T09:15:00+08:00' });
    assert.throws(() => getNormaliser('localTime', { format: 'dd.MM.yyyy' }), /normaliser localTime: time pattern "dd.MM.yyyy" has no hour, minute/);
    assert.throws(() => getNormaliser('localTime', { zone: 'Mars/Olympus' }), /normaliser localTime: unknown time zone "Mars\/Olympus"/);
  });

  it('passes the legacy choice on to citizenId', () => {
    assert.deepEqual(getNormaliser('citizenId')('130102850312041').ok, true);
    assert.deepEqual(getNormaliser('citizenId', { legacy: true })('130102850312041').ok, true);
    assert.equal((getNormaliser('citizenId', { legacy: false })('130102850312041') as { rule: string }).rule, 'legacy');
  });

  it('refuses an option the normaliser does not take, rather than ignore it', () => {
    assert.throws(() => getNormaliser('uscc', { legacy: false }), /normaliser uscc takes no option legacy$/);
    assert.throws(() => getNormaliser('citizenId', { format: 'iso8601' }), /normaliser citizenId takes no option format \(it takes legacy\)/);
    assert.throws(() => getNormaliser('localTime', { legacy: true }), /it takes format, zone/);
    assert.doesNotThrow(() => getNormaliser('uscc', { format: undefined }));
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
