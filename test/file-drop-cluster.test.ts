import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { XMLParser } from 'fast-xml-parser';
import { buildBatchXml, dropBatch, TaxRecordStream, writeLargeBatchFile } from '../infra/simulators/tax-bureau';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { openStore, Store } from '../services/store/open-store';
import { createTestDatabase } from './support/servers';
import { spawnHub, testDataDir, HubProcess, waitFor } from './support/hub';

// A drop folder in a cluster: the hub nodes share one PostgreSQL store and one folder, and one
// lease (`watch:<adapter>`) covers both the folder and the files taken from it.

const ADAPTER = 'tax-bureau';
const receiptParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, isArray: (name) => name === 'JG' });

/** The demo configuration with the tax bureau only, its folder looked at often and applied in small chunks. */
function writeConfig(dir: string): string {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  for (const a of config.adapters) {
    a.dir = path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id);
    if (a.id === ADAPTER) a.overrides = { transport: { options: { pollIntervalMs: 100, chunkRecords: 500 } } };
  }
  config.adapters = config.adapters.filter((a: { id: string }) => a.id === ADAPTER);
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

let seq = 0;
function fileName(): string {
  seq++;
  return `SWSX_11301000009_20261126${String(100000 + seq).padStart(6, '0')}_${String(seq).padStart(4, '0')}.xml`;
}

const lines = (h: HubProcess, msg: string) => h.output().split('\n').filter((l) => l.includes(`"msg":"${msg}"`));

describe('file drop in a cluster: one node watches the folder, under the one lease (postgres store, own processes)', function () {
  this.timeout(600_000);
  const hubs: HubProcess[] = [];
  let store: Store | null = null;
  let dropDb: (() => Promise<void>) | null = null;
  after(async () => {
    for (const h of hubs) await h.stop('SIGKILL');
    await store?.close();
    await dropDb?.();
  });

  it('takes every file on the lease holder only; a holder killed mid-file is replaced at once and its file applied exactly once', async () => {
    const dataDir = testDataDir('file-drop-cluster', { store: 'none' });
    const db = await createTestDatabase();
    dropDb = () => db.drop();
    const env = { HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_CONFIG: writeConfig(dataDir) };
    const inbox = path.join(dataDir, 'drop', ADAPTER, 'inbox');
    const receipts = path.join(dataDir, 'drop', ADAPTER, 'receipts');
    const receiptOf = async (name: string, timeoutMs = 60_000) => {
      const file = path.join(receipts, name.replace(/\.xml$/, '.receipt.xml'));
      await waitFor(`the receipt of ${name}`, () => fs.existsSync(`${file}.ok`), timeoutMs);
      return receiptParser.parse(fs.readFileSync(file, 'utf8')).SWSXReceipt;
    };

    const a = await spawnHub(env);
    hubs.push(a);
    await waitFor('the first node to watch the folder', () => lines(a, 'this node watches the drop folder').length > 0);
    const b = await spawnHub(env);
    hubs.push(b);
    await waitFor('the second node to see the first has it', () => lines(b, 'another node watches the drop folder').length > 0);
    store = await openStore({ store: db.url, dataDir, region: '130100' });
    const driver = store.driver;
    const holder = async () => (await driver.query<{ owner: string; owner_pid: number }>("SELECT owner, owner_pid FROM job_leases WHERE name = 'watch:tax-bureau'")).rows[0];
    assert.equal((await holder()).owner_pid, a.proc.pid);

    // Small files, dropped at once: all of them go to the holder.
    const stream = new TaxRecordStream({ seed: 'cluster-small', poolSize: 50 });
    const small = Array.from({ length: 6 }, () => fileName());
    await Promise.all(small.map((name) => dropBatch(inbox, buildBatchXml(stream.nextRecords(20), { pch: `C${name.slice(-8, -4)}`, scsj: Date.now(), encoding: 'GB18030' }), { name })));
    for (const name of small) assert.equal((await receiptOf(name)).CGS, '20');
    const owners = (await driver.query<{ owner: string }>('SELECT DISTINCT owner FROM file_drops')).rows.map((r) => r.owner);
    assert.deepEqual(owners, [(await holder()).owner], 'every file taken by the node holding the lease');
    assert.equal(lines(b, 'file taken from the inbox').length, 0, 'the other node took nothing');

    // A large file; the holder is killed between two of its chunks.
    const big = fileName();
    const source = path.join(dataDir, 'big.xml');
    await writeLargeBatchFile(source, { records: 20_000, encoding: 'GB18030', seed: 'cluster-big' });
    fs.renameSync(source, path.join(inbox, big));
    fs.writeFileSync(path.join(inbox, `${big}.ok`), '');
    const progress = async () => (await driver.query<{ records_done: number; owner: string }>('SELECT records_done, owner FROM file_drops WHERE name = $1', [big])).rows[0];
    await waitFor('the first chunks of the large file applied', async () => ((await progress())?.records_done ?? 0) >= 1000, 120_000, 20);
    const killedOwner = (await progress()).owner;
    await a.stop('SIGKILL');
    const killedAt = Date.now();
    const doneAtKill = (await progress()).records_done;
    assert.ok(doneAtKill < 20_000, `killed mid-file (${doneAtKill} records done)`);

    // The folder's lease is 60 s; the killed holder was a process of this machine, so it is not waited for.
    await waitFor('the second node to take the folder over', () => lines(b, 'this node watches the drop folder').length > 0, 30_000);
    assert.ok(Date.now() - killedAt < 20_000, `taken over ${Date.now() - killedAt} ms after the kill`);
    const takeOver = await waitFor('the large file taken over', () => lines(b, 'file taken over from a node that no longer watches the folder').find((l) => l.includes(big)), 30_000);
    assert.ok(JSON.parse(takeOver).previousOwner === killedOwner);
    assert.ok(JSON.parse(takeOver).resumeAt >= doneAtKill, 'resumed after the chunks the killed node committed');

    const receipt = await receiptOf(big, 300_000);
    assert.equal(receipt.CGS, '20000');
    assert.equal(receipt.SBS, '0');
    assert.equal(receipt.JG.length, 20_000);
    await waitFor('the large file archived', async () => (await driver.query("SELECT 1 FROM file_drops WHERE name = $1 AND state = 'archived'", [big])).rows.length === 1, 30_000);
    const row = (await driver.query<any>('SELECT id, owner, records, records_done, accepted, duplicates, rejected FROM file_drops WHERE name = $1', [big])).rows[0];
    assert.deepEqual({ records: row.records, done: row.records_done, accepted: row.accepted, duplicates: row.duplicates, rejected: row.rejected }, { records: 20_000, done: 20_000, accepted: 20_000, duplicates: 0, rejected: 0 });
    assert.equal(row.owner, (await holder()).owner);
    assert.equal((await holder()).owner_pid, b.proc.pid);
    const events = await driver.query<{ n: string; d: string }>("SELECT count(*)::text AS n, count(DISTINCT body->'data'->'provenance'->>'record')::text AS d FROM events WHERE raw_message_id = $1", [row.id]);
    assert.deepEqual(events.rows[0], { n: '20000', d: '20000' }, 'every record applied exactly once');
    assert.deepEqual(fs.readdirSync(inbox), [], 'the inbox is empty');
  });
});
