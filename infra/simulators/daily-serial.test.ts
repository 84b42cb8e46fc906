import assert from 'node:assert/strict';
import { DailySerial } from './daily-serial';
import { Random } from './random';

describe('simulators: daily serials', () => {
  it('counts up per day from a small start and wraps within its range', () => {
    const serials = new DailySerial(new Random(1), 1, 100);
    const first = Number(serials.next('20261124', 4));
    assert.ok(first >= 1 && first <= 6);
    assert.equal(serials.next('20261124', 4), String(first + 1).padStart(4, '0'));
    const otherDay = serials.next('20261125', 4);
    assert.match(otherDay, /^000\d$/);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(serials.next('20261126', 3));
    assert.equal(seen.size, 100, 'a whole range before any repeats');
    assert.ok([...seen].every((s) => Number(s) >= 1 && Number(s) <= 100));
  });
});
