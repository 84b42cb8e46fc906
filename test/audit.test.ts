import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig, tokenHash } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { auditCommand } from '../cli/audit-command';
import { testDataDir, getJson, settled } from './support/hub';
import { taxEvent } from './support/events';

const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
const UNMASKED = 'audit-test-supervisor-with-personal-data';
const MASKED = 'audit-test-supervisor-masked';
const OPERATOR = 'audit-test-operator';
const AUDITOR = 'audit-test-auditor';

async function verify(url: string, extra: string[] = []): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await auditCommand(['verify', '--url', url, '--token', AUDITOR, ...extra], { out: (s) => { out += s; }, err: (s) => { out += s; } });
  return { code, out };
}

describe('the tamper-evident access log', function () {
  this.timeout(120_000);
  let hub: RunningHub;
  let url: string;
  let dataDir: string;

  before(async () => {
    dataDir = testDataDir('audit');
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: 'embedded', HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all' });
    config.tokens = [
      { name: 'supervisor with personal data', hash: tokenHash(UNMASKED), roles: ['supervisor'], personalData: true },
      { name: 'supervisor', hash: tokenHash(MASKED), roles: ['supervisor'] },
      { name: 'operator on duty', hash: tokenHash(OPERATOR), roles: ['operator'] },
      { name: 'auditor', hash: tokenHash(AUDITOR), roles: ['auditor'] },
    ];
    hub = await startHub(config, createLogger('silent'));
    url = hub.url!;
  });
  after(async () => { await hub?.stop(); });

  it('records who saw a case unmasked and what an operator did, and shows it to the auditor alone', async () => {
    await hub.context.store.cases.apply([taxEvent('audit-1', 'SW-AUDIT-1', 'ACCEPTED', '2026-11-24T09:00:00+08:00')], { receivedAt: new Date() });
    await settled(url);
    const code = (await hub.context.store.cases.lookup('tax-bureau', 'SW-AUDIT-1'))!;
    assert.equal((await getJson(`${url}/api/v1/cases/${code}`, auth(MASKED))).status, 200);
    const before = (await getJson(`${url}/api/v1/audit`, auth(AUDITOR))).body.items.length;
    assert.equal(before, 0, 'a masked view is not on record');
    assert.equal((await getJson(`${url}/api/v1/cases/${code}`, auth(UNMASKED))).status, 200);
    assert.equal((await getJson(`${url}/api/v1/dead-letters`, auth(OPERATOR))).status, 200);
    const reload = await fetch(`${url}/api/v1/mapping/reload`, { method: 'POST', headers: { ...auth(OPERATOR), 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(reload.status, 200);

    const log = await getJson(`${url}/api/v1/audit`, auth(AUDITOR));
    assert.equal(log.status, 200);
    assert.deepEqual(log.body.items.map((e: any) => [e.seq, e.entry.actor, e.entry.action, e.entry.target]), [
      [1, 'supervisor with personal data', 'case.viewed-unmasked', code],
      [2, 'operator on duty', 'token.used', 'GET /api/v1/dead-letters'],
      [3, 'operator on duty', 'token.used', 'POST /api/v1/mapping/reload'],
      [4, 'operator on duty', 'mapping.reloaded', 'all'],
    ]);
    assert.ok(log.body.items.every((e: any) => !JSON.stringify(e).includes(OPERATOR) && !JSON.stringify(e).includes(UNMASKED)), 'token names only, never tokens');
    assert.equal((await getJson(`${url}/api/v1/audit`, auth(MASKED))).status, 403);
    assert.equal((await getJson(`${url}/api/v1/audit`, auth(OPERATOR))).status, 403);
    assert.equal((await getJson(`${url}/api/v1/audit`)).status, 401);
  });

  it('hub audit verify passes on the log as written, over pages, and names the entry when one byte of an old entry is changed', async () => {
    const head = path.join(dataDir, 'audit', 'head');
    const ok = await verify(url, ['--head', head]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /^audit log verified: 4 entries, chain head 4 [0-9a-f]{64}\n$/);
    // Past ten entries (seq ordered as a number, not as text) and over more than one page of the API.
    for (let i = 0; i < 1100; i++) await hub.context.store.audit.append({ actor: 'load', action: 'test.appended', target: String(i) });
    const long = await verify(url, ['--head', head]);
    assert.equal(long.code, 0, long.out);
    assert.match(long.out, /^audit log verified: 1104 entries, chain head 1104 /);

    // One byte of entry 2 changed in the store, as someone with database access could.
    await hub.context.store.driver.query("UPDATE audit_log SET body = replace(body, 'dead-letters', 'dead-letterz') WHERE seq = 2");
    const broken = await verify(url);
    assert.equal(broken.code, 1);
    assert.match(broken.out, /^audit log broken at entry 2: entry 2 was changed/);

    // Its hash recomputed to match: the next entry no longer chains to it.
    const e2 = (await hub.context.store.driver.query<{ prev: string; body: string }>('SELECT prev, body FROM audit_log WHERE seq = 2')).rows[0];
    const { entryHash } = await import('../services/audit/audit-log');
    await hub.context.store.driver.query('UPDATE audit_log SET hash = $1 WHERE seq = 2', [entryHash(e2.prev, e2.body)]);
    const rechained = await verify(url);
    assert.equal(rechained.code, 1);
    assert.match(rechained.out, /^audit log broken at entry 3: entry 3 names [0-9a-f]{12}… as the hash before it/);
  });

  it('notices entries cut from the end through the head a node wrote', async () => {
    await hub.context.store.driver.query('DELETE FROM audit_log WHERE seq >= 2');
    const cut = await verify(url, ['--head', path.join(dataDir, 'audit', 'head')]);
    assert.equal(cut.code, 1);
    assert.match(cut.out, /the head .* names entry 1104, the log ends at 1/);
  });
});
