import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, NO_CONFIG_MESSAGE } from './config';
import { ConfigError } from './errors';
import { DEMO_CONFIG } from './paths';

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
    assert.deepEqual(c.http, { host: '127.0.0.1', port: 8080, maxBodyBytes: 1048576 });
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
    const c = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_HTTP_HOST: '0.0.0.0', HUB_SERVICES: ' gateway , cases ', HUB_STORE: 'postgres://db/hub', HUB_OUTBOX_DISPATCH: 'off', HUB_DATA_DIR: 'x' });
    assert.deepEqual(c.http, { host: '0.0.0.0', port: 0, maxBodyBytes: 1048576 });
    assert.deepEqual(c.services, ['gateway', 'cases']);
    assert.equal(c.store, 'postgres://db/hub');
    assert.equal(c.outbox.dispatch, false);
    assert.equal(c.dataDir, path.resolve('x'));
    assert.equal(c.tokens.length, 3);
    assert.equal(loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_SERVICES: 'all', HUB_HTTP_PORT: '' }).services, 'all');
  });

  it('names the variable, the setting and the value that break the schema, and never a password', () => {
    const err = refusal({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '8o8o', HUB_SERVICES: 'gateway,casse', HUB_STORE: 'mysql://hub:pw-secret@db/hub' });
    assert.match(err.message, /^invalid configuration: /, 'the file is fine: only variables are named');
    assert.match(err.message, /HUB_HTTP_PORT \(http\.port\) must be integer, not "8o8o"/);
    assert.match(err.message, /HUB_SERVICES \(services\.1\) must be one of gateway, cases, dead-letters, files, mapping, supervisor, not "casse"/);
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
