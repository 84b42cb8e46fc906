import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, tokenHash } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { ROLES } from '../core/kernel/constants';
import { startHub, RunningHub } from '../cli/start-hub';
import { DEMO_CONFIG, ROOT } from '../core/kernel/paths';
import { issueSupervisionCode } from '../core/identifiers/supervision-code';
import { testDataDir } from './support/hub';

const ALL_ROLES = Object.values(ROLES);
const tokenOf = (role: string) => `routes-by-role-${role}-token`;

/** The README's table "Who may call what": route → who. */
function readmeTable(): Map<string, string> {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = text.indexOf('### Who may call what');
  assert.ok(at >= 0, 'README has a section "Who may call what"');
  const section = text.slice(at, text.indexOf('\n#', at + 5));
  const table = new Map<string, string>();
  for (const m of section.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| ([^|]+) \|$/gm)) table.set(`${m[1]} ${m[2]}`, m[3].trim());
  return table;
}

/** Every route the gateway registers, as `METHOD /path/{param}`. */
function gatewayRoutes(hub: RunningHub): string[] {
  const routes = (hub.broker.getLocalService('gateway') as any).settings.routes as { path: string; aliases: Record<string, unknown> }[];
  return routes.flatMap((r) => Object.keys(r.aliases).map((key) => {
    const [method, sub] = key.split(' ');
    const full = sub.startsWith('/') ? sub : `${r.path.replace(/\/$/, '')}/${sub}`;
    return `${method} ${full.replace(/:(\w+)/g, '{$1}')}`;
  }));
}

describe('who may call what: every route the gateway registers, with every role', function () {
  this.timeout(120_000);
  let hub: RunningHub;
  let url: string;

  before(async () => {
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('routes'), HUB_STORE: 'embedded', HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all' });
    // One token per role, each with that role alone, given as its hash.
    config.tokens = ALL_ROLES.flatMap((role) => [
      { name: role, hash: tokenHash(tokenOf(role)), roles: [role] },
      { name: `${role}-personal-data`, hash: tokenHash(tokenOf(`${role}-personal-data`)), roles: [role], personalData: true },
    ]);
    hub = await startHub(config, createLogger('silent'));
    url = hub.url!;
  });
  after(async () => { await hub?.stop(); });

  it('names every registered route in the README table, and no route the gateway does not have', () => {
    const table = readmeTable();
    const routes = gatewayRoutes(hub);
    assert.deepEqual(routes.filter((r) => !table.has(r)), [], 'routes the README table does not name');
    assert.deepEqual([...table.keys()].filter((r) => !routes.includes(r)), [], 'README rows for routes the gateway does not have');
  });

  it('answers 401 without a token or with an unknown one, 403 with a known token without the role, and lets the roles the table names through', async () => {
    const table = readmeTable();
    const code = issueSupervisionCode('130100', new Date());
    const call = async (route: string, token: string | null) => {
      const [method, p] = route.split(' ');
      const target = p.replace('{code}', code).replace('{id}', 'no-such-dead-letter');
      const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
      const controller = new AbortController();
      const res = await fetch(`${url}${target}`, {
        method, headers: { ...headers, ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}) },
        body: method === 'POST' ? '{}' : undefined, signal: controller.signal,
      });
      const status = res.status;
      controller.abort(); // the alert stream never ends by itself
      return status;
    };
    const checked: string[] = [];
    for (const route of gatewayRoutes(hub)) {
      const who = table.get(route)!;
      if (who.startsWith('department system')) continue; // their own credentials: the transport suites
      if (who.startsWith('anyone')) {
        for (const token of [null, tokenOf('public'), 'unknown-token-0000']) assert.ok(![401, 403].includes(await call(route, token)), `${route} is open to anyone`);
        checked.push(route);
        continue;
      }
      // "supervisor with personal data": the role, and the grant besides (a token with the role alone is refused 403).
      const withGrant = / with personal data$/.test(who);
      const allowed = who.replace(/ with personal data$/, '').split(',').map((r) => r.trim());
      for (const r of allowed) assert.ok(ALL_ROLES.includes(r as never), `README names an unknown role ${r} for ${route}`);
      assert.equal(await call(route, null), 401, `${route} without a token`);
      assert.equal(await call(route, 'unknown-token-0000'), 401, `${route} with an unknown token`);
      for (const role of ALL_ROLES) {
        const status = await call(route, tokenOf(role));
        if (allowed.includes(role) && !withGrant) assert.ok(![401, 403].includes(status), `${route} lets ${role} through (got ${status})`);
        else assert.equal(status, 403, `${route} refuses ${role}${withGrant ? ' without the personal data grant' : ''}`);
        if (withGrant) {
          const granted = await call(route, tokenOf(`${role}-personal-data`));
          if (allowed.includes(role)) assert.ok(![401, 403].includes(granted), `${route} lets ${role} with the grant through (got ${granted})`);
          else assert.equal(granted, 403, `${route} refuses ${role} even with the grant`);
        }
      }
      checked.push(route);
    }
    assert.ok(checked.length >= 15, `checked ${checked.length} routes`);
  });
});
