import Redis from 'ioredis';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { connect as natsConnect, JetStreamManager } from 'nats';
import { ROOT } from '../../core/kernel/paths';
import { migrationsDir, openDriver } from '../../services/store/store';

export const POSTGRES_ADMIN_URL = process.env.HUB_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let ensured = false;

async function canConnect(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The real PostgreSQL server the cluster-store tests need. Started (or installed) by the project's
 * script when it is down; a test that cannot have it fails with the reason, never skips.
 */
export async function requirePostgres(): Promise<void> {
  if (ensured) return;
  await requirePort(5432, 'PostgreSQL');
  const why = await canConnect(POSTGRES_ADMIN_URL);
  if (why) throw new Error(`PostgreSQL is needed at ${POSTGRES_ADMIN_URL} and is not reachable: ${why}`);
  ensured = true;
}

/**
 * The PostgreSQL database that test databases are copied from: empty but for this build's
 * migrations, named by a hash of them, so that runs of one build share it and a database another
 * build migrated is never taken. Made by scripts/test.sh (store-template.ts, makePgTemplate) before
 * mocha; a test file run alone without it gets a database its hub migrates itself.
 */
export function pgTemplateName(): string {
  if (templateName) return templateName;
  const dir = migrationsDir();
  const hash = createHash('sha256');
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) hash.update(f).update('\0').update(fs.readFileSync(path.join(dir, f))).update('\0');
  return (templateName = `hub_test_template_${hash.digest('hex').slice(0, 16)}`);
}
/** The template's name, read once per process; and whether it was seen on the server (once made, it stays). */
let templateName: string | null = null;
let templateSeen = false;

/** Runs `fn` on a connection of its own to the server's admin database (`adminUrl`), closed after. */
export async function withAdmin<T>(adminUrl: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
    return await fn(admin);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  return adminUrl.replace(/\/[^/]*$/, `/${name}`);
}

/** Whether the template database is on the server (asked until it is seen: once made, it stays). */
async function templateReady(admin: pg.Client): Promise<boolean> {
  templateSeen ||= Boolean((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [pgTemplateName()])).rowCount);
  return templateSeen;
}

/** Makes the template database (pgTemplateName) unless it is there: migrated beside, then renamed, so that it is whole or absent. */
export async function makePgTemplate(): Promise<void> {
  await requirePostgres();
  const name = pgTemplateName();
  const making = `${name}_making_${process.pid}`;
  await withAdmin(POSTGRES_ADMIN_URL, async (admin) => {
    if (await templateReady(admin)) return;
    await admin.query(`CREATE DATABASE ${making}`);
    const driver = await openDriver(databaseUrl(POSTGRES_ADMIN_URL, making), '', undefined, { poolSize: 1 });
    await driver.close();
    try {
      await admin.query(`ALTER DATABASE ${making} RENAME TO ${name}`);
    } catch (err) {
      // Another run made it meanwhile.
      await admin.query(`DROP DATABASE IF EXISTS ${making} WITH (FORCE)`);
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
  });
}

/**
 * A database of its own for one test suite, dropped afterwards: a copy of the migrated template when
 * there is one (migrating costs a quarter of a second of the server's work, and the suite makes
 * hundreds), unless `empty`: a test of how a store is migrated gets a database with nothing in it.
 */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  await requirePostgres();
  const name = `hub_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdmin(POSTGRES_ADMIN_URL, async (admin) => {
    const template = !opts.empty && (await templateReady(admin)) ? ` TEMPLATE ${pgTemplateName()}` : '';
    await admin.query(`CREATE DATABASE ${name}${template}`);
  });
  return {
    url: databaseUrl(POSTGRES_ADMIN_URL, name),
    drop: () => withAdmin(POSTGRES_ADMIN_URL, async (admin) => { await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); }),
  };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** A server the cluster-mode tests need on loopback; started by the project's script when down. */
async function requirePort(port: number, name: string): Promise<void> {
  if (await portOpen(port)) return;
  try {
    execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-services.sh')], { stdio: 'pipe', timeout: 300_000 });
  } catch (err) {
    throw new Error(`${name} is needed on 127.0.0.1:${port} and could not be started: ${(err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message}`);
  }
  if (!(await portOpen(port))) throw new Error(`${name} is needed on 127.0.0.1:${port} and is not listening`);
}

export const requireNats = () => requirePort(4222, 'NATS with JetStream');
export const requireRedis = () => requirePort(6379, 'Redis');

/** Runs fn with JetStream's manager and the names of a namespace's streams (the bus prefixes its channels with it), on the machine's NATS or the one at `port`. */
async function withStreams<T>(namespace: string, port: number, fn: (jsm: JetStreamManager, streams: string[]) => Promise<T>): Promise<T> {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}` });
  try {
    const jsm = await nc.jetstreamManager();
    return await fn(jsm, (await jsm.streams.list().next()).map((s) => s.config.name).filter((n) => n.startsWith(`${namespace}_`)));
  } finally {
    await nc.close();
  }
}

/** Deletes the streams of a namespace, on the machine's NATS or the one at `port`. */
export function deleteStreams(namespace: string, port = 4222): Promise<string[]> {
  return withStreams(namespace, port, async (jsm, mine) => {
    for (const name of mine) await jsm.streams.delete(name);
    return mine;
  });
}

/**
 * Whether every JetStream consumer of a namespace's streams has handled all it was given: nothing
 * pending delivery, nothing delivered and not yet acknowledged (a consumer acknowledges once its
 * handler is done).
 */
export function busDrained(namespace: string, port = 4222): Promise<boolean> {
  return withStreams(namespace, port, async (jsm, mine) => {
    for (const stream of mine) {
      for (const c of await jsm.consumers.list(stream).next()) if (c.num_pending > 0 || c.num_ack_pending > 0) return false;
    }
    return true;
  });
}

/** Deletes the Redis keys of a namespace's BullMQ job queues (`hub-<namespace>:…`), never another's: tests share the server. */
export async function deleteQueueKeys(namespace: string, url = 'redis://127.0.0.1:6379'): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `hub-${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A port nothing listens on now (taken, then given back). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
