import assert from 'node:assert/strict';
import { CaseBatcher } from '../supervisor.service';

describe('the supervisor batches of cases', () => {
  it('recomputes the cases of events that arrive together in one batch, each case once, and answers every event when its batch commits', async () => {
    const batches: string[][] = [];
    const b = new CaseBatcher(async (codes) => { batches.push(codes); await new Promise((r) => setTimeout(r, 10)); });
    const first = ['A', 'B', 'A', 'C'].map((c) => b.add(c));
    await Promise.all(first);
    assert.deepEqual(batches, [['A', 'B', 'C']]);
    // Arriving while a batch runs: the next batch.
    const during = b.add('D');
    await new Promise((r) => setImmediate(r));
    const more = [b.add('E'), b.add('D')];
    await Promise.all([during, ...more]);
    assert.deepEqual(batches.slice(1), [['D'], ['E', 'D']]);
  });

  it('fails every event of a batch that fails, so that the bus delivers them again, and goes on with the next', async () => {
    let fail = true;
    const b = new CaseBatcher(async () => { if (fail) { fail = false; throw new Error('store away'); } });
    const r = await Promise.allSettled([b.add('A'), b.add('B')]);
    assert.deepEqual(r.map((x) => x.status), ['rejected', 'rejected']);
    await b.add('A');
  });

  it('cuts batches at their largest size', async () => {
    const sizes: number[] = [];
    const b = new CaseBatcher(async (codes) => { sizes.push(codes.length); }, 3);
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((c) => b.add(c)));
    assert.deepEqual(sizes, [3, 3, 1]);
  });
});
