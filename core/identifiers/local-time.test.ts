import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { beijingDate, normaliseLocalTime } from './local-time';

describe('local times', () => {
  describe('normaliseLocalTime', () => {
    it('reads the vehicle office notation as Beijing time', () => {
      assert.deepEqual(normaliseLocalTime('2026-11-24 09:31:05', 'yyyy-MM-dd HH:mm:ss'), { ok: true, value: '2026-11-24T09:31:05+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24 09:31:05'), { ok: true, value: '2026-11-24T09:31:05+08:00' });
    });

    it('reads the tax bureau notation as Beijing time', () => {
      assert.deepEqual(normaliseLocalTime('20261124091502', 'yyyyMMddHHmmss'), { ok: true, value: '2026-11-24T09:15:02+08:00' });
      assert.deepEqual(normaliseLocalTime(' 20261124084510 '), { ok: true, value: '2026-11-24T08:45:10+08:00' });
    });

    it('converts ISO 8601 times with an offset or Z to Beijing time (market regulation)', () => {
      assert.deepEqual(normaliseLocalTime('2026-11-24T09:12:44+08:00', 'iso8601'), { ok: true, value: '2026-11-24T09:12:44+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T01:12:44Z'), { ok: true, value: '2026-11-24T09:12:44+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-12-31T20:30:00-05:00'), { ok: true, value: '2027-01-01T09:30:00+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T06:42:44+0530'), { ok: true, value: '2026-11-24T09:12:44+08:00' });
    });

    it('keeps a non-zero fraction of a second to the millisecond, and drops a zero one', () => {
      assert.deepEqual(normaliseLocalTime('2026-11-24T01:12:44.5Z'), { ok: true, value: '2026-11-24T09:12:44.500+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T01:12:44.123999Z'), { ok: true, value: '2026-11-24T09:12:44.123+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T01:12:44.000Z'), { ok: true, value: '2026-11-24T09:12:44+08:00' });
    });

    it('refuses impossible dates and times with rule date', () => {
      assert.deepEqual(normaliseLocalTime('2026-02-30 10:00:00'), {
        ok: false,
        rule: 'date',
        message: '日期无效',
        detail: '2026-02-30 is not a calendar date',
      });
      assert.deepEqual(normaliseLocalTime('2026-11-24 25:00:00'), {
        ok: false,
        rule: 'date',
        message: '时间无效',
        detail: '25:00:00 is not a time of day',
      });
      assert.equal((normaliseLocalTime('20260229120000') as { rule: string }).rule, 'date');
      assert.equal((normaliseLocalTime('2026-11-24T09:60:00Z') as { rule: string }).rule, 'date');
      assert.equal((normaliseLocalTime('2026-11-24 24:00:00') as { rule: string }).rule, 'date');
      assert.equal((normaliseLocalTime('0099-11-24 09:00:00') as { rule: string }).rule, 'date');
    });

    it('refuses other notations with rule format', () => {
      for (const bad of ['2026/11/24 09:31:05', '2026-11-24', '2026-11-24 9:31:05', '2026-11-24T09:12:44', '20261124', 'yesterday', '2026-11-24T09:12:44+15:00']) {
        const r = normaliseLocalTime(bad);
        assert.equal(!r.ok && r.rule, 'format', bad);
        assert.equal(!r.ok && r.message, '时间格式错误');
      }
      // A notation the department does not use is refused even when another would match.
      assert.equal((normaliseLocalTime('2026-11-24 09:31:05', 'yyyyMMddHHmmss') as { rule: string }).rule, 'format');
      assert.equal((normaliseLocalTime('') as { rule: string }).rule, 'empty');
    });

    it('throws on a format it does not know', () => {
      assert.throws(() => normaliseLocalTime('2026-11-24', 'yyyy-MM-dd' as never), RangeError);
    });
  });

  describe('beijingDate', () => {
    it('gives yyyyMMdd of the instant in Beijing', () => {
      assert.equal(beijingDate('2026-11-24T09:12:44+08:00'), '20261124');
      assert.equal(beijingDate('2026-11-24T15:59:59Z'), '20261124');
      assert.equal(beijingDate('2026-11-24T16:00:00Z'), '20261125');
      assert.equal(beijingDate('2026-11-24 23:59:59'), '20261124');
      assert.equal(beijingDate(new Date('2026-12-31T16:00:00Z')), '20270101');
    });

    it('throws on something that is not a time', () => {
      assert.throws(() => beijingDate('2026-02-30T00:00:00Z'), RangeError);
      assert.throws(() => beijingDate(new Date(NaN)), RangeError);
    });
  });

  describe('properties', () => {
    const instant = fc.date({ min: new Date('1900-01-02T00:00:00Z'), max: new Date('9998-12-31T00:00:00Z'), noInvalidDate: true });

    it('gives the same instant, in +08:00, for a time written at any offset', () => {
      fc.assert(
        fc.property(instant, (d) => {
          const whole = new Date(Math.floor(d.getTime() / 1000) * 1000);
          const r = normaliseLocalTime(whole.toISOString());
          assert.ok(r.ok);
          assert.match(r.value, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?\+08:00$/);
          assert.equal(new Date(r.value).getTime(), whole.getTime());
          assert.deepEqual(normaliseLocalTime(r.value), r);
        }),
      );
    });

    it('reads the two Beijing notations of one wall-clock time alike', () => {
      fc.assert(
        fc.property(instant, (d) => {
          const r = normaliseLocalTime(new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString());
          assert.ok(r.ok);
          const wall = r.value.slice(0, 19);
          assert.deepEqual(normaliseLocalTime(wall.replace('T', ' ')), r);
          assert.deepEqual(normaliseLocalTime(wall.replace(/\D/g, '')), r);
        }),
      );
    });
  });
});
