import assert from 'node:assert/strict';
import { CasePool, Step, planLifecycle } from './lifecycle';
import { Random } from './random';

const FINAL: Step[] = ['REFUSED', 'WITHDRAWN', 'COMPLETED', 'DELIVERED'];
// Which step may directly follow which.
const NEXT: Record<Step, Step[]> = {
  SUBMITTED: ['ACCEPTED', 'REFUSED'],
  ACCEPTED: ['UNDER_REVIEW', 'WITHDRAWN', 'APPROVED'],
  UNDER_REVIEW: ['SUPPLEMENT_REQUESTED', 'SUSPENDED', 'APPROVED', 'DENIED'],
  SUPPLEMENT_REQUESTED: ['SUPPLEMENTED', 'WITHDRAWN'],
  SUPPLEMENTED: ['SUPPLEMENT_REQUESTED', 'SUSPENDED', 'APPROVED', 'DENIED'],
  SUSPENDED: ['RESUMED'],
  RESUMED: ['APPROVED', 'DENIED'],
  APPROVED: ['COMPLETED'],
  DENIED: ['COMPLETED'],
  COMPLETED: ['DELIVERED'],
  DELIVERED: [],
  REFUSED: [],
  WITHDRAWN: [],
};

describe('simulators: case life-cycles', () => {
  it('plans every status, in an order a department would follow', () => {
    const rng = new Random(1);
    const seen = new Set<Step>();
    for (let i = 0; i < 2000; i++) {
      const steps = planLifecycle(rng, { delivers: i % 2 === 0, instant: i % 10 === 0 });
      assert.equal(steps[0], 'SUBMITTED');
      assert.ok(FINAL.includes(steps[steps.length - 1]), steps.join(' → '));
      for (let j = 1; j < steps.length; j++) assert.ok(NEXT[steps[j - 1]].includes(steps[j]), steps.join(' → '));
      if (i % 2 === 1) assert.ok(!steps.includes('DELIVERED'));
      steps.forEach((s) => seen.add(s));
    }
    assert.deepEqual([...seen].sort(), Object.keys(NEXT).sort());
  });

  it('advances cases with times that never run backwards or ahead of the clock', () => {
    let now = Date.parse('2026-11-24T09:00:00+08:00');
    const rng = new Random(2);
    let n = 0;
    const pool = new CasePool<number>({ rng, clock: () => now, open: (r) => ({ subject: n++, steps: planLifecycle(r, { delivers: true }) }) });
    const last = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      now += rng.int(0, 60_000);
      const e = pool.next();
      assert.ok(e.time <= now, 'not in the future');
      assert.ok(e.time > (last.get(e.subject) ?? -Infinity), 'strictly after the case’s previous status');
      last.set(e.subject, e.time);
    }
    assert.ok(pool.inProgress <= 40);
  });
});
