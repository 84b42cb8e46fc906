import { spawn, ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { waitFor } from './hub';
import { running } from './nats';

// A Redis server of one test alone: a test that kills Redis and starts it again must not take down
// the shared server on 6379 that every other cluster test's job queue runs on.

const REDIS_SERVER = 'redis-server';

/**
 * A redis-server on loopback at `port`, its data in `dir`, answering PING. Every write is in the
 * append-only file and fsynced before Redis answers it (`appendfsync always`), so that a server
 * killed outright comes back, on the same port and dir, with every write it acknowledged; no RDB
 * snapshots, so that the AOF alone is what a restart reads.
 */
export async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const proc = spawn(REDIS_SERVER, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no',
    '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--logfile', '',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  await waitFor(`redis-server on port ${port} to answer PING`, async () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}:\n${out}`);
    return pings(port);
  }, 10_000, 50);
  return proc;
}

/** Whether a Redis on loopback at port answers PING now (one connection, no retries). */
async function pings(port: number): Promise<boolean> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // Refused while the server is still starting: that is the answer, not an error to report.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Sends a signal to a redis-server started here (SIGKILL: a crash, no goodbye to its clients) and waits for it to end. */
export async function stopRedis(proc: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!running(proc)) return;
  const ended = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(signal);
  await ended;
}
