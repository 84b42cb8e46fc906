import assert from 'node:assert/strict';
import { Batcher } from './batcher';

describe('batches of items gathered while one is worked', () => {
  it('answers each item with its own answer, fails only the item whose answer is an Error, and keeps the order items came in', async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, string>(async (items) => {
      batches.push(items);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((n) => (n === 3 ? new Error('three is refused') : `done ${n}`));
    });
    const first = [1, 2, 3].map((n) => b.add(n));
    await new Promise((r) => setImmediate(r));
    const later = [4, 5].map((n) => b.add(n));
    const settled = await Promise.allSettled([...first, ...later]);
    assert.deepEqual(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)), ['done 1', 'done 2', 'three is refused', 'done 4', 'done 5']);
    assert.deepEqual(batches, [[1, 2, 3], [4, 5]], 'those arriving while a batch runs make the next one, in order');
  });

  it('is idle once every batch is worked, and starts again for an item added the moment the last batch ended', async () => {
    const b = new Batcher<number, void>(async () => undefined, { maxBatch: 2 });
    const done = [1, 2, 3].map((n) => b.add(n));
    await b.idle();
    await Promise.all(done);
    // Added in the turn the last batch resolved: a flush must still pick it up.
    await Promise.race([b.add(4), new Promise((_r, reject) => setTimeout(() => reject(new Error('an item added after the last batch was never worked')), 1000))]);
  });
});
