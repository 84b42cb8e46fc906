import assert from 'node:assert/strict';
import { beijingParts, pad } from '../../core/identifiers/calendar-date';
import { normaliseLocalTime } from '../../core/identifiers/local-time';
import { beijingCompact, beijingDateTime, beijingIso, parseBeijing } from './beijing-time';
import { Random } from './random';

describe('simulators: Beijing time', () => {
  it('writes an instant in each department notation, on Beijing’s date after 16:00 UTC', () => {
    const instant = Date.parse('2026-12-31T16:30:05Z');
    assert.equal(beijingDateTime(instant), '2027-01-01 00:30:05');
    assert.equal(beijingCompact(instant), '20270101003005');
    assert.equal(beijingIso(new Date(instant)), '2027-01-01T00:30:05+08:00');
  });

  it('reads back what it writes', () => {
    const instant = Date.parse('2026-02-28T23:59:59+08:00');
    assert.equal(parseBeijing(beijingDateTime(instant)), instant);
    assert.equal(parseBeijing(beijingCompact(instant)), instant);
    assert.throws(() => parseBeijing('2026-02-28'), /not a Beijing time/);
  });

  // Two implementations of one wall clock: the hub's calendar code must see the same fields.
  it('agrees with the hub’s calendar on random instants across years', () => {
    const rng = new Random('beijing-time');
    for (let i = 0; i < 2000; i++) {
      const instant = rng.int(Date.parse('1999-01-01T00:00:00Z') / 1000, Date.parse('2040-01-01T00:00:00Z') / 1000) * 1000;
      const p = beijingParts(new Date(instant));
      const hub = `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
      assert.equal(beijingDateTime(instant), hub, new Date(instant).toISOString());
      assert.deepEqual(normaliseLocalTime(beijingCompact(instant), 'yyyyMMddHHmmss'), { ok: true, value: beijingIso(instant) });
    }
  });
});
