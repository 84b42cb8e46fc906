import assert from 'node:assert/strict';
import { GroupCommit } from './group-commit';

// The grouping itself, with a commit that records what it was given: which parts went together,
// when each submitter was answered, and what became of a group one of whose parts fails.

/** A commit under test's control: each call waits until released. */
function controlledCommit(fail: (part: string) => boolean = () => false) {
  const calls: { parts: string[]; release: () => void }[] = [];
  const run = (parts: readonly string[]) => new Promise<string[]>((resolve, reject) => {
    calls.push({
      parts: [...parts],
      release: () => {
        const bad = parts.find(fail);
        if (bad) reject(new Error(`refused ${bad}`));
        else resolve(parts.map((p) => `done ${p}`));
      },
    });
  });
  return { calls, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('group commit', () => {
  it('commits a lone submission at once, and what arrives meanwhile together in the next commit, answering each after its own', async () => {
    const c = controlledCommit();
    const g = new GroupCommit<string, string>({ run: c.run, maxParts: 10, maxWeight: 100, concurrency: 1 });
    const answered: string[] = [];
    const a = g.submit('a').then((r) => answered.push(r));
    await tick();
    assert.deepEqual(c.calls.map((x) => x.parts), [['a']], 'the first is committed without waiting for company');
    const rest = ['b', 'c', 'd'].map((p) => g.submit(p).then((r) => answered.push(r)));
    await tick();
    assert.equal(c.calls.length, 1, 'nothing else commits while the first commit runs');
    assert.deepEqual(answered, [], 'no one is answered before its commit');
    c.calls[0].release();
    await a;
    await tick();
    assert.deepEqual(answered, ['done a'], 'the first is answered after its commit, the others still wait');
    assert.deepEqual(c.calls.map((x) => x.parts), [['a'], ['b', 'c', 'd']], 'those that waited go together');
    c.calls[1].release();
    await Promise.all(rest);
    assert.deepEqual(answered, ['done a', 'done b', 'done c', 'done d']);
    assert.deepEqual(g.counts, { groups: 2, parts: 4 });
  });

  it('keeps a group within its parts and weight, a part heavier than the limit going alone', async () => {
    const c = controlledCommit();
    const weights: Record<string, number> = { a: 1, b: 3, c: 3, d: 3, e: 50, f: 1, g: 1, h: 1 };
    const g = new GroupCommit<string, string>({ run: c.run, maxParts: 2, maxWeight: 10, weight: (p) => weights[p], concurrency: 1 });
    const all = Object.keys(weights).map((p) => g.submit(p));
    for (let i = 0; i < 6; i++) {
      await tick();
      c.calls[c.calls.length - 1]?.release();
    }
    await Promise.all(all);
    assert.deepEqual(c.calls.map((x) => x.parts), [['a'], ['b', 'c'], ['d'], ['e'], ['f', 'g'], ['h']]);
  });

  it('runs no more commits at once than its concurrency', async () => {
    const c = controlledCommit();
    const g = new GroupCommit<string, string>({ run: c.run, maxParts: 10, maxWeight: 100, concurrency: 2 });
    const all = ['a', 'b', 'c', 'd'].map((p) => g.submit(p));
    await tick();
    assert.deepEqual(c.calls.map((x) => x.parts), [['a'], ['b']], 'two commits run, the rest wait');
    c.calls[1].release();
    await tick();
    assert.deepEqual(c.calls.map((x) => x.parts), [['a'], ['b'], ['c', 'd']]);
    c.calls[0].release();
    c.calls[2].release();
    assert.deepEqual(await Promise.all(all), ['done a', 'done b', 'done c', 'done d']);
  });

  it('fails only the part that fails: a failed group is run again one part at a time', async () => {
    const runs: string[][] = [];
    const g = new GroupCommit<string, string>({
      run: async (parts) => {
        runs.push([...parts]);
        await tick();
        if (parts.includes('bad')) throw new Error('refused bad');
        return parts.map((p) => `done ${p}`);
      },
      maxParts: 10, maxWeight: 100, concurrency: 1,
    });
    const outcomes = await Promise.allSettled(['first', 'x', 'bad', 'y'].map((p) => g.submit(p)));
    assert.deepEqual(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)), ['done first', 'done x', 'refused bad', 'done y']);
    assert.deepEqual(runs, [['first'], ['x', 'bad', 'y'], ['x'], ['bad'], ['y']]);
  });
});
