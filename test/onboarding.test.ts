import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import { postBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { ADAPTERS_DIR, ROOT } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub } from '../cli/start-hub';
import { scaffoldKinds } from '../adapters/kit/scaffold';
import { NAME_PLACEHOLDER } from '../adapters/kit/conformance';
import { STORES, startTestHub, TestHub, testDataDir, OPERATOR, SUPERVISOR, getJson, waitFor } from './support/hub';

function hubCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'hub.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// A registry department with catalogue items that is not the registry's first: a scaffold that
// fell back to a default department would show it.
const registry = YAML.parse(fs.readFileSync(path.join(ROOT, 'contracts', 'registry.yaml'), 'utf8')) as { departments: { code: string; name: string; aliases?: unknown[]; halls?: { code: string; name: string }[]; systems?: string[] }[] };
const marketEntry = registry.departments.find((d) => d.systems?.includes('market-regulation'))!;
const MARKET = { code: marketEntry.code, name: marketEntry.name, alias: String(marketEntry.aliases![0]) };
const OTHER_DEPARTMENTS = registry.departments.filter((d) => d.code !== MARKET.code).flatMap((d) => [d.code, d.name, ...(d.halls ?? []).flatMap((h) => [h.code, h.name])]);
const folderFiles = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? folderFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));

const departmentFolders = () => fs.readdirSync(ADAPTERS_DIR).filter((d) => fs.existsSync(path.join(ADAPTERS_DIR, d, 'adapter.yaml'))).map((d) => path.join(ADAPTERS_DIR, d));

describe('hub adapter test (conformance runner)', function () {
  this.timeout(60_000);

  for (const dir of departmentFolders()) {
    it(`passes on ${path.basename(dir)}`, async () => {
      const r = await hubCli(['adapter', 'test', dir]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /[1-9]\d* samples passed, 0 failed/);
    });
  }

  it('fails with a readable diff when one expected field is changed', async () => {
    const copy = path.join(testDataDir('conformance'), 'market-regulation');
    fs.cpSync(path.join(ADAPTERS_DIR, 'market-regulation'), copy, { recursive: true });
    const file = path.join(copy, 'samples', 'batch-01.expected.json');
    const expected = JSON.parse(fs.readFileSync(file, 'utf8'));
    expected.records[1].events[0].data.item.code = '130100-SC-0002';
    fs.writeFileSync(file, JSON.stringify(expected, null, 2));
    const r = await hubCli(['adapter', 'test', copy]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✗ market-regulation\/batch-01\.json/);
    assert.match(r.stdout, /record 2: events\[0\]\.data\.item\.code: expected "130100-SC-0002", got "130100-SC-0001"/);
    assert.match(r.stdout, /✓ market-regulation\/batch-02-odd-and-refused\.json/);
  });

  for (const kind of scaffoldKinds()) {
    it(`scaffolds a ${kind} department with \`hub adapter new --name --department\` that passes unchanged and names only that department`, async () => {
      const parent = testDataDir(`scaffold-${kind}`);
      const made = await hubCli(['adapter', 'new', 'demo-x', '--transport', kind, '--dir', parent, '--department', MARKET.alias, '--name', '石家庄市示例局 审批系统']);
      assert.equal(made.code, 0, made.stderr);
      const dir = path.join(parent, 'demo-x');
      for (const f of ['adapter.yaml', 'mapping.yaml', 'README.md']) assert.ok(fs.existsSync(path.join(dir, f)), f);
      const r = await hubCli(['adapter', 'test', dir]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 samples passed, 0 failed/);
      assert.equal(YAML.parse(fs.readFileSync(path.join(dir, 'adapter.yaml'), 'utf8')).name, '石家庄市示例局 审批系统');
      assert.equal(YAML.parse(fs.readFileSync(path.join(dir, 'mapping.yaml'), 'utf8')).department, MARKET.code);
      const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
      assert.match(readme, /石家庄市示例局 审批系统/);
      assert.ok(readme.includes(MARKET.code) && readme.includes(MARKET.name), readme);
      // Nothing of another department: not the registry's first one, which the scaffold once took by default.
      for (const f of folderFiles(dir)) {
        const text = fs.readFileSync(f, 'utf8');
        for (const other of OTHER_DEPARTMENTS) assert.ok(!text.includes(other), `${path.relative(dir, f)} names ${other}`);
      }
      assert.equal((await hubCli(['adapter', 'new', 'demo-x', '--transport', kind, '--dir', parent, '--department', MARKET.alias])).code, 1, 'an existing folder is not overwritten');
    });
  }

  it('without --name writes a placeholder that `hub adapter test` refuses until it is replaced', async () => {
    const parent = testDataDir('scaffold-unnamed');
    const made = await hubCli(['adapter', 'new', 'demo-y', '--transport', 'rest', '--dir', parent, '--department', MARKET.code]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /placeholder/);
    const dir = path.join(parent, 'demo-y');
    const refused = await hubCli(['adapter', 'test', dir]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /adapter\.yaml: name is still the placeholder/);
    assert.match(refused.stdout, /README\.md: still carries the placeholder/);
    for (const f of ['adapter.yaml', 'README.md']) {
      const file = path.join(dir, f);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').split(NAME_PLACEHOLDER).join('石家庄市示例局 登记系统'));
    }
    const passed = await hubCli(['adapter', 'test', dir]);
    assert.equal(passed.code, 0, passed.stdout + passed.stderr);
  });

  it('refuses to scaffold without a department it can find in the registry, rather than guess one', async () => {
    const parent = testDataDir('scaffold-no-department');
    const r = await hubCli(['adapter', 'new', 'demo-z', '--transport', 'soap', '--dir', parent, '--name', '某县烟草专卖局 许可系统']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--department/);
    assert.ok(!fs.existsSync(path.join(parent, 'demo-z')), 'no folder is left behind');
    const unknown = await hubCli(['adapter', 'new', 'demo-z', '--transport', 'soap', '--dir', parent, '--department', '烟草专卖局']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /烟草专卖局.*not in contracts\/registry\.yaml/);
    // A name the registry knows is enough.
    const byName = await hubCli(['adapter', 'new', 'demo-z', '--transport', 'soap', '--dir', parent, '--name', MARKET.name]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(YAML.parse(fs.readFileSync(path.join(parent, 'demo-z', 'mapping.yaml'), 'utf8')).department, MARKET.code);
  });

  it('scaffolds a file drop with the department\'s own marker, and a marker in samples/ is not taken for a sample', async () => {
    const parent = testDataDir('scaffold-done');
    const made = await hubCli(['adapter', 'new', 'demo-done', '--transport', 'file', '--dir', parent, '--department', MARKET.code, '--name', '示例局 批量文件', '--marker', '.done']);
    assert.equal(made.code, 0, made.stderr);
    const dir = path.join(parent, 'demo-done');
    assert.equal(YAML.parse(fs.readFileSync(path.join(dir, 'adapter.yaml'), 'utf8')).transport.options.markerSuffix, '.done');
    const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
    assert.match(readme, /<name>\.done`/);
    assert.doesNotMatch(readme, /\.ok\b/);
    // The department's samples arrive with their markers beside them.
    const sample = fs.readdirSync(path.join(dir, 'samples')).find((f) => f.endsWith('.xml'))!;
    fs.writeFileSync(path.join(dir, 'samples', sample + '.done'), '');
    const r = await hubCli(['adapter', 'test', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 samples passed, 0 failed/);
  });

  it('`hub map --expected --write` writes the sample\'s expected file, the same draft `--expected` prints', async () => {
    const copy = path.join(testDataDir('map-write'), 'market-regulation');
    fs.cpSync(path.join(ADAPTERS_DIR, 'market-regulation'), copy, { recursive: true });
    const sample = path.join(copy, 'samples', 'batch-02-odd-and-refused.json');
    const expectedFile = path.join(copy, 'samples', 'batch-02-odd-and-refused.expected.json');
    const printed = await hubCli(['map', copy, sample, '--expected']);
    assert.equal(printed.code, 0, printed.stderr);
    fs.rmSync(expectedFile);
    const written = await hubCli(['map', copy, sample, '--expected', '--write']);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /wrote .*batch-02-odd-and-refused\.expected\.json/);
    assert.equal(fs.readFileSync(expectedFile, 'utf8'), printed.stdout);
    assert.equal(JSON.parse(printed.stdout).records[1].rejected.field, 'applicant.creditCode');
    const r = await hubCli(['adapter', 'test', copy]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await hubCli(['map', copy, sample, '--write'])).code, 2, '--write without --expected is a usage error');
  });

  it('prints the canonical events of a file with `hub map`, or the reasons', async () => {
    const r = await hubCli(['map', 'market-regulation', path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-02-odd-and-refused.json')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.records[0].event.data.status, 'SUPPLEMENT_REQUESTED');
    assert.equal(out.records[1].rejected.field, 'applicant.creditCode');
    assert.equal(out.records[2].rejected.value, 'PAUSED');
  });
});

describe('make install', function () {
  this.timeout(60_000);
  const make = (cwd: string, args: string[]) => new Promise<{ code: number; out: string }>((resolve) => {
    // NPM=false: an install that would run fails instead of reinstalling anything.
    execFile('make', ['-s', ...args, 'NPM=false'], { cwd }, (err, stdout, stderr) => resolve({ code: err ? Number(err.code) || 1 : 0, out: stdout + stderr }));
  });

  it('skips npm ci while node_modules matches the lock file, whatever the files\' dates', async () => {
    const now = new Date();
    fs.utimesSync(path.join(ROOT, 'package-lock.json'), now, now);
    const r = await make(ROOT, ['install']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /node_modules matches package-lock\.json: no install/);
  });

  it('runs npm ci when the lock file names a version node_modules does not hold', async () => {
    const dir = testDataDir('make-install');
    fs.copyFileSync(path.join(ROOT, 'Makefile'), path.join(dir, 'Makefile'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
    const changed = Object.keys(lock.packages).find((k) => k.startsWith('node_modules/') && !lock.packages[k].optional)!;
    lock.packages[changed].version = '0.0.0-not-installed';
    fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock));
    const r = await make(dir, ['install']);
    assert.notEqual(r.code, 0, `make install took ${changed} at a version it does not hold for installed: ${r.out}`);
    assert.doesNotMatch(r.out, /no install/);
  });
});

describe('deploying a department folder by reference (adapterDirs)', function () {
  this.timeout(120_000);
  let t: TestHub | null = null;
  after(async () => { await t?.stop(); });

  it('takes up every department folder of a glob, polling off where HUB_POLLING_OFF says, and the new one answers its department', async () => {
    const dir = testDataDir('adapter-dirs');
    const parent = path.join(dir, 'departments');
    const made = await hubCli(['adapter', 'new', 'demo-ref', '--transport', 'rest', '--dir', parent, '--department', MARKET.code, '--name', '示例局 网上申报系统']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await hubCli(['adapter', 'test', path.join(parent, 'demo-ref')])).code, 0);
    const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'infra', 'demo', 'hub.yaml'), 'utf8'));
    // One listed entry (its settings win), the bundled folders and the new one by glob, relative to the file.
    config.adapters = [{ id: 'market-regulation', dir: path.join(ADAPTERS_DIR, 'market-regulation'), enabled: false }];
    config.adapterDirs = [`${path.relative(dir, ADAPTERS_DIR)}/*`, 'departments/*'];
    fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify(config));

    const loaded = loadConfig({ HUB_CONFIG: path.join(dir, 'hub.yaml'), HUB_POLLING_OFF: 'vehicle-office' });
    const refs = new Map(loaded.adapters.map((a) => [a.id, a]));
    assert.deepEqual([...refs.keys()].sort(), ['demo-ref', 'market-regulation', 'tax-bureau', 'vehicle-office']);
    assert.equal(refs.get('market-regulation')!.enabled, false, 'the listed entry keeps its settings');
    assert.equal(refs.get('demo-ref')!.dir, path.join(parent, 'demo-ref'));
    assert.deepEqual(refs.get('vehicle-office')!.overrides, { transport: { options: { poll: { enabled: false } } } });
    assert.equal(refs.get('tax-bureau')!.overrides, undefined, 'a transport without polling is left as it is');
    // Without the switch, the vehicle office's folder polls as its adapter.yaml says.
    assert.equal(loadConfig({ HUB_CONFIG: path.join(dir, 'hub.yaml') }).adapters.find((a) => a.id === 'vehicle-office')!.overrides, undefined);

    t = await startTestHub('embedded', { HUB_CONFIG: path.join(dir, 'hub.yaml'), HUB_POLLING_OFF: 'vehicle-office' });
    assert.deepEqual([...t.hub.context.adapters.keys()].sort(), ['demo-ref', 'tax-bureau', 'vehicle-office']);
    const def = YAML.parse(fs.readFileSync(path.join(parent, 'demo-ref', 'adapter.yaml'), 'utf8'));
    const [keyId, secret] = Object.entries(def.transport.options.signature.keys as Record<string, string>)[0];
    const sample = fs.readFileSync(path.join(parent, 'demo-ref', 'samples', 'example-01.json'));
    const r = await postBatch(`${t.url}${def.transport.options.path}`, sample, { keyId, secret });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body as any).results.map((x: any) => x.result), ['accepted', 'rejected']);
    const found = await getJson(`${t.url}/api/v1/cases/lookup?system=demo-ref&localId=EXAMPLE-0001`, SUPERVISOR);
    assert.equal(found.status, 200, JSON.stringify(found.body));
    const view = await getJson(`${t.url}/api/v1/cases/${found.body.supervisionCode}`, SUPERVISOR);
    assert.equal(view.body.department.code, MARKET.code);
  });

  it('lists a file of a department that gets no receipt without a receipt time and logs it as archived, not answered; one of a department that gets receipts with it', async () => {
    const dir = testDataDir('no-receipt');
    const made = await hubCli(['adapter', 'new', 'demo-drop', '--transport', 'file', '--dir', path.join(dir, 'departments'), '--department', MARKET.code, '--name', '示例局 批量文件', '--marker', '.done']);
    assert.equal(made.code, 0, made.stderr);
    const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'infra', 'demo', 'hub.yaml'), 'utf8'));
    config.adapters = [{ id: 'tax-bureau', dir: path.join(ADAPTERS_DIR, 'tax-bureau') }];
    config.adapterDirs = ['departments/*'];
    fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify(config));
    const lines: any[] = [];
    const raw: string[] = [];
    const config2 = loadConfig({ HUB_CONFIG: path.join(dir, 'hub.yaml'), HUB_HTTP_PORT: '0', HUB_DATA_DIR: path.join(dir, 'data'), HUB_STORE: 'embedded' });
    const running = await startHub(config2, createLogger('info', { write: (l: string) => { raw.push(l); lines.push(JSON.parse(l)); } }));
    const h = { url: running.url!, dataDir: config2.dataDir, stop: () => running.stop() };
    try {
      const drop = (adapter: string, sampleDir: string, name: string, marker: string) => {
        const inbox = path.join(h.dataDir, 'drop', adapter, 'inbox');
        fs.mkdirSync(inbox, { recursive: true });
        fs.copyFileSync(path.join(sampleDir, name), path.join(inbox, name));
        fs.writeFileSync(path.join(inbox, name + marker), '');
      };
      const ownSamples = path.join(dir, 'departments', 'demo-drop', 'samples');
      drop('demo-drop', ownSamples, fs.readdirSync(ownSamples).find((f) => f.endsWith('.xml'))!, '.done');
      drop('tax-bureau', path.join(ADAPTERS_DIR, 'tax-bureau', 'samples'), 'SWSX_11301000000_20261124093000_0001.xml', '.ok');
      const archived = (adapter: string) => async () => {
        const r = await getJson(`${h.url}/api/v1/files?adapter=${adapter}`, OPERATOR);
        return r.body.items?.[0]?.archivedAt ? r.body.items[0] : null;
      };
      const own = await waitFor('the department\'s file archived', archived('demo-drop'), 60_000);
      assert.equal(own.outcome, 'processed');
      assert.equal(own.receiptedAt, null, JSON.stringify(own));
      assert.deepEqual(fs.readdirSync(path.join(h.dataDir, 'drop', 'demo-drop')).sort().includes('receipts'), false);
      const tax = await waitFor('the tax bureau\'s file archived', archived('tax-bureau'), 60_000);
      assert.ok(tax.receiptedAt, JSON.stringify(tax));
      const said = (adapter: string, msg: string) => lines.filter((l) => l.adapter === adapter && l.msg === msg);
      assert.equal(said('demo-drop', 'file archived').length, 1, JSON.stringify(lines.filter((l) => l.adapter === 'demo-drop')));
      assert.equal(said('demo-drop', 'file answered and archived').length, 0);
      assert.equal(said('tax-bureau', 'file answered and archived').length, 1);
      // The line as written, before parsing (where a doubled key would collapse): the adapter once.
      const applied = raw.filter((l) => l.includes('"msg":"file applied"') && l.includes('demo-drop'));
      assert.equal(applied.length, 1, raw.join(''));
      assert.equal(applied[0].split('"adapter":').length - 1, 1, applied[0]);
    } finally {
      await h.stop();
    }
  });

  it('names an adapterDirs entry that is not a folder', () => {
    const dir = testDataDir('adapter-dirs-missing');
    fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify({ adapterDirs: ['nowhere/*'] }));
    assert.throws(() => loadConfig({ HUB_CONFIG: path.join(dir, 'hub.yaml') }), /adapterDirs: nowhere\/\* is not a folder/);
  });
});

for (const store of STORES) {
  describe(`dead letters, profile reload and replay (${store} store)`, function () {
    this.timeout(120_000);
    let t: TestHub;
    let profileFile: string;
    const event = (status: string): MarketEvent => ({
      eventId: randomUUID(), caseNo: `SJ-DL-${randomUUID().slice(0, 8)}`, itemCode: 'SCJG-DJ-001', status: status as never,
      statusTime: '2026-11-24T11:00:00+08:00', applicant: { type: 'PERSON', name: '刘芳', idNumber: '130105197806241283', mobile: '15833321907' },
      officer: null, supervisionCode: null, remark: null,
    });
    const counts = async () => {
      const r = await t.hub.context.store.driver.query<any>(`SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM cases)::int AS cases,
        (SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL)::int AS open`);
      return r.rows[0];
    };

    before(async () => {
      // A configuration of its own, with a copy of the department folder that the test may edit.
      const dir = testDataDir('reload');
      const adapterDir = path.join(dir, 'market-regulation');
      fs.cpSync(path.join(ADAPTERS_DIR, 'market-regulation'), adapterDir, { recursive: true });
      profileFile = path.join(adapterDir, 'mapping.yaml');
      const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'infra', 'demo', 'hub.yaml'), 'utf8'));
      config.adapters = [{ id: 'market-regulation', dir: adapterDir }];
      fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify(config));
      t = await startTestHub(store, { HUB_CONFIG: path.join(dir, 'hub.yaml') });
    });
    after(async () => { await t?.stop(); });

    it('keeps an unmapped status as a dead letter, and after the profile is fixed (no restart) replays it exactly once', async () => {
      const e = event('PRE_CHECKED');
      const r = await postBatch(`${t.url}/api/v1/inbound/market-regulation`, { batchId: 'b-dl', events: [e] });
      assert.equal((r.body as any).results[0].result, 'rejected');
      const list = await getJson(`${t.url}/api/v1/dead-letters?adapter=market-regulation`, OPERATOR);
      const dl = list.body.items.find((d: any) => d.value === 'PRE_CHECKED');
      assert.ok(dl, JSON.stringify(list.body));
      assert.equal(dl.adapter, 'market-regulation');
      assert.equal(dl.field, 'status');
      assert.match(dl.reason, /market-regulation/);
      assert.match(dl.reason, /status/);
      assert.match(dl.reason, /PRE_CHECKED/);
      assert.ok(dl.rawMessageId && dl.receivedAt);
      assert.equal(dl.replays, 0);

      // Replaying before the fix changes nothing and says why.
      const early = await fetch(`${t.url}/api/v1/dead-letters/${dl.id}/replay`, { method: 'POST', headers: OPERATOR }).then((x) => x.json() as Promise<any>);
      assert.equal(early.result, 'still-failing', JSON.stringify(early));

      const before = await counts();
      const versionBefore = t.hub.context.profiles.get('market-regulation').version;
      fs.writeFileSync(profileFile, fs.readFileSync(profileFile, 'utf8').replace('    RESUMED: { value: RESUMED', '    PRE_CHECKED: { value: UNDER_REVIEW, label: 预审通过 }\n    RESUMED: { value: RESUMED'));
      // The file watcher reloads the profile; no restart, no admin call.
      for (let i = 0; i < 50 && t.hub.context.profiles.get('market-regulation').version === versionBefore; i++) await new Promise((res) => setTimeout(res, 100));
      assert.notEqual(t.hub.context.profiles.get('market-regulation').version, versionBefore, 'profile reloaded');

      const replay = await fetch(`${t.url}/api/v1/dead-letters/${dl.id}/replay`, { method: 'POST', headers: OPERATOR }).then((x) => x.json() as Promise<any>);
      assert.equal(replay.result, 'applied');
      const after = await counts();
      assert.equal(after.events, before.events + 1);
      assert.equal(after.open, before.open - 1);
      const view = await getJson(`${t.url}/api/v1/cases/${replay.supervisionCode}`, SUPERVISOR);
      assert.equal(view.body.status, 'UNDER_REVIEW');
      assert.equal(view.body.timeline[0].sourceCode, 'PRE_CHECKED');
      assert.equal(view.body.timeline[0].provenance.profileVersion, t.hub.context.profiles.get('market-regulation').version);

      const again = await fetch(`${t.url}/api/v1/dead-letters/${dl.id}/replay`, { method: 'POST', headers: OPERATOR }).then((x) => x.json() as Promise<any>);
      assert.equal(again.result, 'duplicate');
      assert.deepEqual(await counts(), after);
      assert.equal((await getJson(`${t.url}/api/v1/cases/${replay.supervisionCode}`, SUPERVISOR)).body.timeline.length, 1);
      // Re-sending the original message now maps, and is the same event: a duplicate.
      const resent = await postBatch(`${t.url}/api/v1/inbound/market-regulation`, { batchId: 'b-dl', events: [e] });
      assert.equal((resent.body as any).results[0].result, 'duplicate');
    });

    it('`hub replay --dead-letters --dry-run` lists what the fixed profile would now produce and changes nothing', async () => {
      const e = event('PRE_CHECKED_2');
      await postBatch(`${t.url}/api/v1/inbound/market-regulation`, { batchId: 'b-dry', events: [e, event('UNFIXABLE')] });
      fs.writeFileSync(profileFile, fs.readFileSync(profileFile, 'utf8').replace('    RESUMED: { value: RESUMED', '    PRE_CHECKED_2: { value: UNDER_REVIEW }\n    RESUMED: { value: RESUMED'));
      const reload = await fetch(`${t.url}/api/v1/mapping/reload`, { method: 'POST', headers: { ...OPERATOR, 'Content-Type': 'application/json' }, body: '{}' }).then((x) => x.json() as Promise<any>);
      assert.ok(reload.profiles['market-regulation'].version);
      const before = await counts();
      const dry = await hubCli(['replay', '--dead-letters', '--adapter', 'market-regulation', '--dry-run', '--url', t.url, '--token', 'demo-operator-token']);
      const lines = dry.stdout.trim().split('\n').map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          throw new Error(`hub replay printed a line that is not JSON (exit ${dry.code}): ${l}\n${dry.stderr}`);
        }
      });
      const fixed = lines.find((l) => l.event?.data?.sourceStatus?.code === 'PRE_CHECKED_2');
      assert.ok(fixed, dry.stdout + dry.stderr);
      assert.equal(fixed.result, 'applied');
      assert.equal(fixed.event.data.status, 'UNDER_REVIEW');
      const stuck = lines.find((l) => l.result === 'still-failing');
      assert.ok(stuck && /UNFIXABLE/.test(stuck.reason));
      assert.match(dry.stderr, /dry run: nothing changed/);
      assert.deepEqual(await counts(), before);
      const dl = await getJson(`${t.url}/api/v1/dead-letters?adapter=market-regulation`, OPERATOR);
      assert.ok(dl.body.items.every((d: any) => d.replays === 0 || d.value !== 'PRE_CHECKED_2'));
    });
  });
}
