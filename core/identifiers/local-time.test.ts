import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { beijingDate, localTimeReader, normaliseLocalTime } from './local-time';

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
      for (const bad of ['2026/11/24 09:31:05', '2026-11-24', '2026-11-24 9:31:05', '2026-11-24T09:12', '20261124', 'yesterday', '2026-11-24T09:12:44+15:00']) {
        const r = normaliseLocalTime(bad);
        assert.equal(!r.ok && r.rule, 'format', bad);
        assert.equal(!r.ok && r.message, '时间格式错误');
      }
      // A notation the department does not use is refused even when another would match.
      assert.equal((normaliseLocalTime('2026-11-24 09:31:05', 'yyyyMMddHHmmss') as { rule: string }).rule, 'format');
      assert.equal((normaliseLocalTime('') as { rule: string }).rule, 'empty');
    });

    it('throws on a format it cannot read', () => {
      assert.throws(() => normaliseLocalTime('2026-11-24', 'yyyy-MM-dd'), /has no hour, minute/);
      assert.throws(() => normaliseLocalTime('2026-11-24T09:00', 'yyyy-MM-ddTHH:mm'), /unknown letters "T"/);
      assert.throws(() => normaliseLocalTime('2026-11-24', "yyyy-MM-dd'T"), /unclosed quote/);
      assert.throws(() => normaliseLocalTime('2026-11-24', 'yyyy-MM-dd HH:mm yyyy'), /the year appears twice/);
    });
  });

  describe('times without an offset (zone)', () => {
    it('reads a zone-less ISO 8601 time as Beijing time by default', () => {
      assert.deepEqual(normaliseLocalTime('2026-11-24T10:20:31', 'iso8601'), { ok: true, value: '2026-11-24T10:20:31+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T10:20:31.25'), { ok: true, value: '2026-11-24T10:20:31.250+08:00' });
    });

    it('reads it in the zone the profile names, and keeps the offset of a time that has one', () => {
      assert.deepEqual(normaliseLocalTime('2026-11-24T10:20:31', 'iso8601', 'UTC'), { ok: true, value: '2026-11-24T18:20:31+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T10:20:31', 'iso8601', '+05:30'), { ok: true, value: '2026-11-24T12:50:31+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-11-24T10:20:31+08:00', 'iso8601', 'UTC'), { ok: true, value: '2026-11-24T10:20:31+08:00' });
      // A zone with summer time: the offset of that day.
      assert.deepEqual(normaliseLocalTime('2026-07-01 12:00:00', undefined, 'America/New_York'), { ok: true, value: '2026-07-02T00:00:00+08:00' });
      assert.deepEqual(normaliseLocalTime('2026-01-15 12:00:00', undefined, 'America/New_York'), { ok: true, value: '2026-01-16T01:00:00+08:00' });
      assert.deepEqual(normaliseLocalTime('20261124091502', 'yyyyMMddHHmmss', 'Asia/Urumqi'), { ok: true, value: '2026-11-24T11:15:02+08:00' });
    });

    it('throws on a zone it does not know', () => {
      assert.throws(() => localTimeReader({ zone: 'Asia/Beijing' }), /unknown time zone "Asia\/Beijing"/);
      assert.throws(() => localTimeReader({ zone: '+15:00' }), /out of range/);
    });
  });

  describe('a pattern from the profile', () => {
    const slashed = localTimeReader({ format: 'yyyy/M/d H:mm' });

    it('reads the department\'s own notation, seconds absent', () => {
      assert.deepEqual(slashed('2026/11/4 9:05'), { ok: true, value: '2026-11-04T09:05:00+08:00' });
      assert.deepEqual(slashed('2026/11/24 19:05'), { ok: true, value: '2026-11-24T19:05:00+08:00' });
      assert.deepEqual(slashed('２０２６/１１/４ ９:０５'), { ok: true, value: '2026-11-04T09:05:00+08:00' });
      assert.deepEqual(localTimeReader({ format: "yyyy-MM-dd'T'HH:mm:ss.SSS" })('2026-11-24T09:05:07.120'), { ok: true, value: '2026-11-24T09:05:07.120+08:00' });
      assert.deepEqual(localTimeReader({ format: 'yyyy年M月d日 H时mm分' })('2026年11月4日 9时05分'), { ok: true, value: '2026-11-04T09:05:00+08:00' });
    });

    it('reports a malformed time against that pattern, quoting the value as received', () => {
      assert.deepEqual(slashed(' 2026-11-24 09:31:05'), {
        ok: false,
        rule: 'format',
        message: '时间格式错误，应为 yyyy/M/d H:mm',
        detail: '" 2026-11-24 09:31:05" does not match yyyy/M/d H:mm',
      });
      assert.deepEqual(slashed('２０２６/１１/４ ９:０５:00'), {
        ok: false,
        rule: 'format',
        message: '时间格式错误，应为 yyyy/M/d H:mm',
        detail: '"２０２６/１１/４ ９:０５:00" does not match yyyy/M/d H:mm',
      });
      assert.deepEqual(slashed('2026/2/30 9:05'), { ok: false, rule: 'date', message: '日期无效', detail: '2026-02-30 is not a calendar date' });
      assert.equal((slashed('2026/11/4 9:60') as { rule: string }).rule, 'date');
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

    // A pattern as a department might write one: every field, each padded or not, any separators.
    const pattern = fc.record({
      month: fc.constantFrom('M', 'MM'), day: fc.constantFrom('d', 'dd'), hour: fc.constantFrom('H', 'HH'),
      minute: fc.constantFrom('m', 'mm'), second: fc.constantFrom('', 's', 'ss'),
      seps: fc.array(fc.constantFrom('-', '/', '.', ' ', ':', '年', '月', '日', "'T'"), { minLength: 5, maxLength: 5 }),
    }).map((p) => ({
      tokens: ['yyyy', p.month, p.day, p.hour, p.minute, ...(p.second ? [p.second] : [])],
      seps: p.seps,
      text: ['yyyy', p.month, p.day, p.hour, p.minute, ...(p.second ? [p.second] : [])].map((t, i) => (i === 0 ? t : p.seps[i - 1] + t)).join(''),
    }));
    const write = (tokens: string[], seps: string[], wall: string): string => {
      const v: Record<string, string> = { y: wall.slice(0, 4), M: wall.slice(5, 7), d: wall.slice(8, 10), H: wall.slice(11, 13), m: wall.slice(14, 16), s: wall.slice(17, 19) };
      return tokens.map((t, i) => {
        const n = v[t[0]];
        return (i === 0 ? '' : seps[i - 1].replace(/'/g, '')) + (t.length === 1 ? String(Number(n)) : n);
      }).join('');
    };

    it('reads back any Beijing wall-clock time written in any pattern, to the precision the pattern keeps', () => {
      fc.assert(
        fc.property(instant, pattern, (d, p) => {
          const beijing = normaliseLocalTime(new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString());
          assert.ok(beijing.ok);
          const text = write(p.tokens, p.seps, beijing.value);
          const r = localTimeReader({ format: p.text })(text);
          const kept = p.tokens.length === 6 ? beijing.value.slice(0, 19) : beijing.value.slice(0, 16) + ':00';
          assert.deepEqual(r, { ok: true, value: `${kept}+08:00` }, `${p.text} ${text}`);
          // The same time with a stray character is refused against the pattern, quoted as sent.
          const bad = localTimeReader({ format: p.text })(text + 'x');
          assert.deepEqual(bad, { ok: false, rule: 'format', message: `时间格式错误，应为 ${p.text}`, detail: `${JSON.stringify(text + 'x')} does not match ${p.text}` });
        }),
      );
    });

    it('reads a zone-less time in a fixed-offset zone as the same instant written with that offset', () => {
      const offset = fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 14 }), fc.constantFrom(0, 15, 30, 45))
        .map(([sign, h, m]) => `${sign}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
      fc.assert(
        fc.property(instant, offset, (d, zone) => {
          const wall = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().slice(0, 19);
          const withOffset = normaliseLocalTime(wall + zone);
          assert.ok(withOffset.ok);
          assert.deepEqual(normaliseLocalTime(wall, 'iso8601', zone), withOffset);
          assert.deepEqual(normaliseLocalTime(wall.replace('T', ' '), 'yyyy-MM-dd HH:mm:ss', zone), withOffset);
          if (zone === '+08:00') assert.deepEqual(normaliseLocalTime(wall, 'iso8601'), withOffset);
        }),
      );
    });

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
