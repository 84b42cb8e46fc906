import { spawn, ChildProcess } from 'node:child_process';
import { waitFor } from './hub';

// A NATS server of one test alone: the tests that kill NATS and start it again must not take down
// the shared server on 4222 that every other cluster test runs on.

const NATS_SERVER = '/usr/sbin/nats-server';

export { freePort } from './servers';


/** A NATS server with JetStream of this test alone, on loopback; its streams under storeDir, kept across restarts. */
export async function startNats(port: number, storeDir: string): Promise<ChildProcess> {
  const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  await waitFor(`nats-server on port ${port}:\n${out}`, () => {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}:\n${out}`);
    return /Server is ready/.test(out);
  }, 10_000, 50);
  return proc;
}

/** Whether a process started here is still running. */
export function running(proc: ChildProcess | null): proc is ChildProcess {
  return !!proc && proc.exitCode === null && proc.signalCode === null;
}

/** Kills a process outright (no goodbye to its clients: a crash) and waits for it to end. */
export async function kill(proc: ChildProcess | null): Promise<void> {
  if (!running(proc)) return;
  const ended = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGKILL');
  await ended;
}

