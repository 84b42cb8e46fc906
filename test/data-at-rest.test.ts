import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import iconv from 'iconv-lite';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { readKeyFile, writeKeyFile } from '../core/kernel/data-keys';
import { startHub, RunningHub } from '../cli/start-hub';
import { rekeyCommand } from '../cli/rekey-command';
import { defaultKeyFile, openStore } from '../services/store/open-store';
import { STORES, testDataDir } from './support/hub';
import { demoAdapterEntries, samplePersonalData, sendEverySample } from './support/samples';
import { createTestDatabase } from './support/servers';

// Personal data at rest: every sample of every department taken through its transport, then every
// table of the store read raw, must hold none of the samples' ID numbers, mobiles, phones or names
// in clear (UTF-8 or GBK); the hub still shows them to a caller with the grant, finds a case by ID
// number, and goes on doing both after `hub rekey` and once the old key is gone.

/** Every value of every table of the store, as text: bytes both as UTF-8 and as GBK. */
async function rawTables(hub: RunningHub): Promise<Map<string, string>> {
  const db = hub.context.store.driver;
  const tables = (await db.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")).rows.map((r) => r.t);
  const out = new Map<string, string>();
  for (const t of tables) {
    const rows = (await db.query<Record<string, unknown>>(`SELECT * FROM ${t}`)).rows;
    const parts: string[] = [];
    for (const row of rows) {
      for (const v of Object.values(row)) {
        if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'), iconv.decode(Buffer.from(v), 'gbk'));
        else if (v !== null && typeof v === 'object') parts.push(JSON.stringify(v));
        else parts.push(String(v));
      }
    }
    out.set(t, parts.join('\n'));
  }
  return out;
}

function assertNoneInClear(tables: Map<string, string>, values: readonly string[]): void {
  const found: string[] = [];
  for (const [t, text] of tables) for (const v of values) if (text.includes(v)) found.push(`${t}: ${v}`);
  assert.deepEqual(found, [], 'personal data in clear in the store');
}

for (const kind of STORES) {
  describe(`personal data at rest (${kind} store)`, function () {
    this.timeout(180_000);
    let hub: RunningHub;
    let dataDir: string;
    let configFile: string;
    let storeUrl: string;
    let dropDb: (() => Promise<void>) | null = null;
    const personal = samplePersonalData();
    const auth = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' });
    const start = async () => {
      const config = loadConfig({ HUB_CONFIG: configFile, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: storeUrl, HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'vehicle-office' });
      hub = await startHub(config, createLogger('silent'));
    };
    const find = async (idNumber: string, token = 'rest-supervisor-pd') => {
      const r = await fetch(`${hub.url}/api/v1/cases/find`, { method: 'POST', headers: auth(token), body: JSON.stringify({ idNumber }) });
      return { status: r.status, body: (await r.json()) as { supervisionCodes: string[] } };
    };
    const view = async (code: string) => (await fetch(`${hub.url}/api/v1/cases/${code}`, { headers: auth('rest-supervisor-pd') })).json() as Promise<any>;

    before(async () => {
      dataDir = testDataDir(`at-rest-${kind}`);
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? db.drop : null;
      storeUrl = db ? db.url : 'embedded';
      configFile = path.join(dataDir, 'hub.yaml');
      fs.writeFileSync(configFile, YAML.stringify({
        region: '130100',
        tokens: [
          { name: 'operator', token: 'rest-operator', roles: ['operator'] },
          { name: 'supervisor-pd', token: 'rest-supervisor-pd', roles: ['supervisor'], personalData: true },
          { name: 'supervisor', token: 'rest-supervisor-plain', roles: ['supervisor'] },
        ],
        adapters: demoAdapterEntries(),
        shutdownGraceSeconds: 5,
      }));
      await start();
      // Every sample, through its own transport: applied, refused or dead-lettered.
      await sendEverySample(hub.url!, dataDir);
    });
    after(async () => {
      await hub?.stop();
      await dropDb?.();
    });

    it('finds none of the samples\' ID numbers, mobiles, phones or names in clear in any table, while the hub shows them to a caller with the grant', async () => {
      assert.ok(personal.length >= 15, `the samples give ${personal.length} personal values`);
      const tables = await rawTables(hub);
      for (const t of ['inbox', 'events', 'cases', 'dead_letters']) assert.ok(tables.get(t)!.length > 0, `${t} has rows`);
      assertNoneInClear(tables, personal);
      // The same values, opened by the hub: a case of each department shows its applicant in full.
      const codes = (await hub.context.store.driver.query<{ c: string }>('SELECT supervision_code AS c FROM cases ORDER BY 1')).rows.map((r) => r.c);
      const shown = JSON.stringify(await Promise.all(codes.map(view)));
      const inClear = personal.filter((v) => shown.includes(v));
      assert.ok(inClear.length >= 10, `the case views show the applicants in full (${inClear.length} values)`);
      const letters = await (await fetch(`${hub.url}/api/v1/dead-letters`, { headers: auth('rest-operator') })).json() as { items: { reason: string }[] };
      assert.ok(letters.items.length >= 1 && letters.items.every((d) => d.reason.length > 0), 'dead letters open with their reasons');
    });

    it('finds a case by its applicant\'s ID number in any spelling, only for a caller with the personal data grant', async () => {
      const [code] = (await hub.context.store.driver.query<{ c: string }>('SELECT supervision_code AS c FROM cases ORDER BY 1 LIMIT 1')).rows.map((r) => r.c);
      const idNumber = (await view(code)).applicant.idNumber as string;
      const fullWidth = idNumber.replace(/[0-9A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
      for (const spelling of [idNumber, fullWidth, ` ${idNumber.toLowerCase()} `]) {
        const r = await find(spelling);
        assert.equal(r.status, 200);
        assert.ok(r.body.supervisionCodes.includes(code), `${code} found by ${JSON.stringify(spelling)}`);
      }
      assert.equal((await find(idNumber, 'rest-supervisor-plain')).status, 403, 'a supervisor without the grant may not look up by ID number');
      assert.deepEqual((await find('130102198001010011')).body.supervisionCodes, [], 'an ID number of no applicant finds nothing');
    });

    it('hub rekey moves every sealed value to a new key while the hub runs; look-ups by ID number still work, and go on working once the old key is removed', async () => {
      const keyFile = defaultKeyFile(dataDir);
      const oldKey = readKeyFile(keyFile).current;
      const codes = (await hub.context.store.driver.query<{ c: string }>('SELECT supervision_code AS c FROM cases ORDER BY 1')).rows.map((r) => r.c);
      const before = await Promise.all(codes.map(view));
      const out: string[] = [];
      const rc = await rekeyCommand(['--key-file', keyFile, '--url', hub.url!, '--token', 'rest-operator'], { out: (s) => out.push(s), err: (s) => out.push(s) }, 100);
      assert.equal(rc, 0, out.join(''));
      const newKey = readKeyFile(keyFile).current;
      assert.notEqual(newKey, oldKey);
      assert.match(out.join(''), /pass \d+: inbox \d+\/\d+ .*events .*cases .*dead_letters/, 'progress is printed table by table');
      assert.match(out.join(''), new RegExp(`rekey done: every sealed value is under data key ${newKey}`));
      // No value is left under the old key, and the store forgot it.
      const tables = await rawTables(hub);
      for (const [t, text] of tables) assert.ok(!text.includes(`pd1.${oldKey}.`) && !text.includes(`${oldKey}.`), `${t} holds nothing under the old key`);
      const raw = (await hub.context.store.driver.query<{ body: Uint8Array }>('SELECT body FROM inbox')).rows;
      assert.ok(raw.every((r) => Buffer.from(r.body).includes(Buffer.from(newKey, 'latin1'))), 'every raw message is sealed under the new key');
      assert.deepEqual((await hub.context.store.driver.query<{ id: string }>('SELECT id FROM data_keys')).rows.map((r) => r.id), [newKey]);
      assertNoneInClear(tables, personal);
      for (const [i, code] of codes.entries()) {
        assert.deepEqual((await find(before[i].applicant.idNumber)).body.supervisionCodes.includes(code), true, `${code} found by ID number after the rekey`);
      }
      assert.deepEqual(await Promise.all(codes.map(view)), before, 'every case reads as before');

      // The old key removed from the file, and the hub started again: everything still opens.
      const file = readKeyFile(keyFile);
      writeKeyFile(keyFile, { current: file.current, keys: file.keys.filter((k) => k.id !== oldKey) });
      await hub.stop();
      await start();
      assert.deepEqual(await Promise.all(codes.map(view)), before, 'every case reads as before without the old key');
      for (const [i, code] of codes.entries()) assert.ok((await find(before[i].applicant.idNumber)).body.supervisionCodes.includes(code));
    });

    if (kind === 'postgres') {
      it('a node whose key file lacks the store\'s key refuses to open the store, naming the key', async () => {
        const other = testDataDir('at-rest-other-node');
        await assert.rejects(openStore({ store: storeUrl, dataDir: other, region: '130100' }), (err: Error) => {
          assert.match(err.message, /sealed under data key k\w+, which this node's key file .* does not hold: every node of a hub needs the same key file \(HUB_DATA_KEY_FILE\)/);
          return true;
        });
      });
    }
  });
}
