import { strict as assert } from 'node:assert';
import { IntervalJob } from './interval-job';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('interval job (embedded job runner)', () => {
  it('runs again and again, never two runs at once', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const job = new IntervalJob({
      name: 't', intervalMs: 5, maxBackoffMs: 100,
      run: async () => { running++; most = Math.max(most, running); runs++; await sleep(10); running--; },
      onError: () => assert.fail('no error expected'),
    });
    job.start();
    await sleep(150);
    await job.stop();
    assert.ok(runs >= 4, `${runs} runs`);
    assert.equal(most, 1);
  });

  it('backs off after failures, doubling the pause, and reports each with the count in a row', async () => {
    const seen: { failures: number; retryInMs: number }[] = [];
    let calls = 0;
    const job = new IntervalJob({
      name: 't', intervalMs: 100, maxBackoffMs: 400,
      run: async () => { calls++; if (calls <= 4) throw new Error(`down ${calls}`); },
      onError: (err, failures, retryInMs) => { assert.match((err as Error).message, /^down/); seen.push({ failures, retryInMs }); },
    });
    job.start();
    await sleep(1300);
    await job.stop();
    assert.deepEqual(seen.map((s) => s.failures), [1, 2, 3, 4]);
    const [a, b, c, d] = seen.map((s) => s.retryInMs);
    assert.ok(a >= 90 && a <= 110 && b >= 180 && b <= 220 && c >= 360 && c <= 440 && d >= 360 && d <= 440, JSON.stringify(seen));
    assert.equal(job.failuresInARow, 0, 'a success resets the count');
  });

  it('stop() aborts the run in progress, waits for it, and reports no error for it', async () => {
    let ended = false;
    const job = new IntervalJob({
      name: 't', intervalMs: 10, maxBackoffMs: 100,
      run: (signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => setTimeout(() => { ended = true; reject(new Error('aborted')); }, 20))),
      onError: () => assert.fail('an aborted run is not a failure'),
    });
    job.start();
    await sleep(20);
    await job.stop();
    assert.equal(ended, true);
  });
});
