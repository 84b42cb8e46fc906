import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import { postBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { ADAPTERS_DIR, ROOT } from '../core/kernel/paths';
import { scaffoldKinds } from '../adapters/kit/scaffold';
import { STORES, startTestHub, TestHub, testDataDir, OPERATOR, SUPERVISOR, getJson } from './support/hub';

function hubCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'hub.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

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
    it(`scaffolds a ${kind} department with \`hub adapter new\` that passes unchanged`, async () => {
      const parent = testDataDir(`scaffold-${kind}`);
      const made = await hubCli(['adapter', 'new', 'demo-x', '--transport', kind, '--dir', parent]);
      assert.equal(made.code, 0, made.stderr);
      for (const f of ['adapter.yaml', 'mapping.yaml', 'README.md']) assert.ok(fs.existsSync(path.join(parent, 'demo-x', f)), f);
      const r = await hubCli(['adapter', 'test', path.join(parent, 'demo-x')]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 samples passed, 0 failed/);
      assert.equal((await hubCli(['adapter', 'new', 'demo-x', '--transport', kind, '--dir', parent])).code, 1, 'an existing folder is not overwritten');
    });
  }

  it('prints the canonical events of a file with `hub map`, or the reasons', async () => {
    const r = await hubCli(['map', 'market-regulation', path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-02-odd-and-refused.json')]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.records[0].event.data.status, 'SUPPLEMENT_REQUESTED');
    assert.equal(out.records[1].rejected.field, 'applicant.creditCode');
    assert.equal(out.records[2].rejected.value, 'PAUSED');
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
