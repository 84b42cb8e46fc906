import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, NO_CONFIG_MESSAGE, tokenHash } from './config';
import { ConfigError } from './errors';
import { DEMO_CONFIG, ROOT } from './paths';

function configFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-config-'));
  fs.writeFileSync(path.join(dir, 'hub.yaml'), text);
  return path.join(dir, 'hub.yaml');
}

/** The ConfigError loadConfig throws, for its message and data. */
function refusal(env: NodeJS.ProcessEnv, file?: string): ConfigError {
  try {
    loadConfig(env, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('loadConfig accepted the configuration');
}

describe('loadConfig', () => {
  it('has no default file: without HUB_CONFIG it refuses, naming HUB_CONFIG and --demo', () => {
    const err = refusal({});
    assert.equal(err.message, NO_CONFIG_MESSAGE);
    assert.match(err.message, /HUB_CONFIG/);
    assert.match(err.message, /--demo/);
  });

  it('fills in the schema\'s defaults and resolves paths beside the file', () => {
    const file = configFile('adapters:\n  - id: market-regulation\n    dir: ../somewhere/market-regulation\n');
    const c = loadConfig({ HUB_CONFIG: file });
    assert.deepEqual(c.http, { host: '127.0.0.1', port: 8080, maxBodyBytes: 1048576, healthPort: null });
    assert.equal(c.store, 'embedded');
    assert.equal(c.services, 'all');
    assert.equal(c.region, '130100');
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.tokens, []);
    assert.deepEqual(c.outbox, { dispatch: true, pollIntervalMs: 1000, batchSize: 500, stream: { maxAgeHours: 168, maxBytes: 1073741824 } });
    assert.equal(c.adapters[0].dir, path.resolve(path.dirname(file), '../somewhere/market-regulation'));
    assert.equal(c.adapters[0].enabled, true);
    assert.equal(c.dataDir, path.resolve('./data'));
  });

  it('puts the HUB_* variables over the file, and takes HUB_SERVICES as a list', () => {
    const c = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_HEALTH_PORT: '8081', HUB_HTTP_HOST: '0.0.0.0', HUB_SERVICES: ' gateway , cases ', HUB_STORE: 'postgres://db/hub', HUB_OUTBOX_DISPATCH: 'off', HUB_DATA_DIR: 'x' });
    assert.deepEqual(c.http, { host: '0.0.0.0', port: 0, maxBodyBytes: 1048576, healthPort: 8081 });
    assert.deepEqual(c.services, ['gateway', 'cases']);
    assert.equal(c.store, 'postgres://db/hub');
    assert.equal(c.outbox.dispatch, false);
    assert.equal(c.dataDir, path.resolve('x'));
    assert.deepEqual(c.tokens.map((t) => t.name), ['demo supervisor', 'demo operator', 'demo vehicle-office supervisor', 'demo vehicle-office department', 'demo auditor']);
    assert.equal(loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_SERVICES: 'all', HUB_HTTP_PORT: '' }).services, 'all');
  });

  it('names the variable, the setting and the value that break the schema, and never a password', () => {
    const err = refusal({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '8o8o', HUB_SERVICES: 'gateway,casse', HUB_STORE: 'mysql://hub:pw-secret@db/hub' });
    assert.match(err.message, /^invalid configuration: /, 'the file is fine: only variables are named');
    assert.match(err.message, /HUB_HTTP_PORT \(http\.port\) must be integer, not "8o8o"/);
    const services = (JSON.parse(fs.readFileSync(path.join(ROOT, 'core', 'kernel', 'config.schema.json'), 'utf8')).properties.services.items.enum as string[]).join(', ');
    assert.ok(err.message.includes(`HUB_SERVICES (services.1) must be one of ${services}, not "casse"`), err.message);
    assert.match(err.message, /HUB_STORE \(store\) must match pattern .*, not "mysql:\/\/hub:\*\*\*@db\/hub"/);
    assert.doesNotMatch(err.message, /pw-secret/);
    assert.equal(err.data.field, 'HUB_HTTP_PORT');
  });

  it('names an unknown or wrong setting in the file, and the file', () => {
    const file = configFile('http:\n  prot: 80\ntokens:\n  - name: x\n    token: short\n    roles: [supervisor]\n');
    const err = refusal({ HUB_CONFIG: file });
    assert.ok(err.message.startsWith(`invalid configuration ${file}: `), err.message);
    assert.match(err.message, /unknown setting http\.prot/);
    assert.match(err.message, /tokens\.0\.token must NOT have fewer than 8 characters/);
    assert.doesNotMatch(err.message, /short/, 'a token is not shown, even a wrong one');
  });

  it('says a file is missing, or not YAML, in one line', () => {
    assert.equal(refusal({ HUB_CONFIG: '/nowhere/hub.yaml' }).message, 'configuration file /nowhere/hub.yaml (HUB_CONFIG) not found');
    const err = refusal({ HUB_CONFIG: configFile('a: [1, 2\nb: }\n') });
    assert.match(err.message, /is not YAML: /);
    assert.doesNotMatch(err.message, /\n/);
  });
});

describe('tokens in the configuration', () => {
  const secret = 'a-long-enough-secret-0001';
  const hashOf = (t: string) => `sha256:${tokenHash(t).toString('hex')}`;

  it('takes a token as its hash, from a file or from a variable, and keeps only what it needs', () => {
    const file = configFile(`tokens:
  - { name: hashed, tokenHash: "${hashOf(secret)}", roles: [supervisor] }
  - { name: filed, tokenFile: secret.txt, roles: [operator] }
  - { name: from-env, tokenEnv: HUB_TEST_TOKEN, roles: [auditor], personalData: true }
  - { name: clear, token: clear-demo-token, roles: [supervisor], departments: ["11130100000400113E"] }
`);
    fs.writeFileSync(path.join(path.dirname(file), 'secret.txt'), `  ${secret}-file\n`);
    const tokens = loadConfig({ HUB_TEST_TOKEN: `${secret}-env` }, file).tokens;
    assert.deepEqual(tokens.map((t) => [t.name, t.hash.toString('hex'), t.secret ?? null]), [
      ['hashed', hashOf(secret).slice(7), null],
      ['filed', hashOf(`${secret}-file`).slice(7), `${secret}-file`],
      ['from-env', hashOf(`${secret}-env`).slice(7), `${secret}-env`],
      ['clear', hashOf('clear-demo-token').slice(7), 'clear-demo-token'],
    ]);
    assert.equal(tokens[2].personalData, true);
    assert.deepEqual(tokens[3].departments, ['11130100000400113E']);
  });

  it('refuses an entry with two secrets or none, an unknown role, a short or missing secret, naming the entry and never the secret', () => {
    const two = refusal({}, configFile(`tokens:\n  - { name: both, token: ${secret}, tokenHash: "${hashOf(secret)}", roles: [operator] }\n`));
    assert.match(two.message, /tokens\.0/);
    assert.doesNotMatch(two.message, new RegExp(secret));
    assert.match(refusal({}, configFile('tokens:\n  - { name: none, roles: [operator] }\n')).message, /tokens\.0/);
    assert.match(refusal({}, configFile(`tokens:\n  - { name: x, token: ${secret}, roles: [root] }\n`)).message, /roles/);
    assert.match(refusal({}, configFile('tokens:\n  - { name: bad-hash, tokenHash: "sha256:abc", roles: [operator] }\n')).message, /tokenHash/);
    const missing = refusal({}, configFile('tokens:\n  - { name: lost, tokenFile: nowhere.txt, roles: [operator] }\n'));
    assert.match(missing.message, /token "lost": tokenFile .*nowhere\.txt cannot be read/);
    const empty = refusal({ HUB_EMPTY: 'short' }, configFile('tokens:\n  - { name: env, tokenEnv: HUB_EMPTY, roles: [operator] }\n'));
    assert.match(empty.message, /token "env": the variable HUB_EMPTY holds no token/);
    assert.doesNotMatch(empty.message, /short/);
  });
});

describe('subscriptions in the configuration', () => {
  const entry = (more: string) => `subscriptions:\n  - { id: city, url: "http://127.0.0.1:9/hook", ${more} }\n`;

  it('reads a subscription\'s secret from the file, a file or a variable, with the defaults of the schema', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-config-'));
    fs.writeFileSync(path.join(dir, 'city.secret'), 'secret-from-a-file-0123\n');
    const file = path.join(dir, 'hub.yaml');
    fs.writeFileSync(file, 'subscriptions:\n  - { id: a, url: "http://127.0.0.1:9/a", secretFile: city.secret }\n  - { id: b, url: "http://127.0.0.1:9/b", secretEnv: HUB_SUB_B, keyId: kb, personalData: true, filter: { types: [cn.gov.hub.case.light.changed] } }\n  - { id: c, url: "http://127.0.0.1:9/c", secret: secret-in-clear-0123, enabled: false }\n');
    const c = loadConfig({ HUB_SUB_B: 'secret-from-the-env-0123' }, file);
    assert.deepEqual(c.subscriptions, [
      { id: 'a', url: 'http://127.0.0.1:9/a', secret: 'secret-from-a-file-0123', keyId: 'a', filter: {}, personalData: false, ratePerSecond: 0 },
      { id: 'b', url: 'http://127.0.0.1:9/b', secret: 'secret-from-the-env-0123', keyId: 'kb', filter: { types: ['cn.gov.hub.case.light.changed'] }, personalData: true, ratePerSecond: 0 },
    ]);
    assert.deepEqual(c.outbound, { concurrency: 16, timeoutMs: 10000, retry: { firstDelayMs: 1000, maxDelayMs: 300000, giveUpHours: 24 }, pollIntervalMs: 1000, reloadSeconds: 30, keepDoneDays: 7 });
  });

  it('refuses a missing or short secret, two ids alike, an unknown filter value, naming the setting and never the secret', () => {
    const short = refusal({ HUB_SHORT: 'only-12-char' }, configFile(entry('secretEnv: HUB_SHORT')));
    assert.match(short.message, /subscriptions\[0\]\.secretEnv: the variable HUB_SHORT holds no secret of 16 characters or more/);
    assert.doesNotMatch(short.message, /only-12-char/);
    assert.match(refusal({}, configFile(entry('secretFile: nowhere.txt'))).message, /subscriptions\[0\]\.secretFile: .*nowhere\.txt cannot be read/);
    assert.match(refusal({}, configFile(entry(''))).message, /subscriptions/);
    const twice = `subscriptions:\n  - { id: city, url: "http://127.0.0.1:9/a", secret: secret-in-clear-0123 }\n  - { id: city, url: "http://127.0.0.1:9/b", secret: secret-in-clear-0123 }\n`;
    assert.match(refusal({}, configFile(twice)).message, /subscriptions\[1\]\.id: city is the id of an earlier subscription/);
    assert.match(refusal({}, configFile(entry('secret: secret-in-clear-0123, filter: { statuses: [DONE] }'))).message, /statuses/);
  });
});
