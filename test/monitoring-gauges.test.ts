import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, overrideAdapter, HubConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { ADAPTERS_DIR, DEMO_CONFIG } from '../core/kernel/paths';
import { startHub, RunningHub } from '../cli/start-hub';
import { postBatch } from '../infra/simulators/market-regulation';
import { dropBatch } from '../infra/simulators/tax-bureau';
import { testDataDir, waitFor } from './support/hub';

// The gauges the alert rules compare with (infra/prometheus/rules/hub.yml), as /metrics shows them.

/** The value of one series of /metrics, or null when there is none. */
async function gauge(url: string, series: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

describe('monitoring gauges: quiet periods, last messages, office hours and readiness on /metrics', function () {
  this.timeout(120_000);
  const dataDir = testDataDir('monitoring');
  let hub: RunningHub | null = null;
  const start = async (change: (c: HubConfig) => void = () => undefined) => {
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: 'embedded', HUB_LOG_LEVEL: 'silent' });
    change(config);
    hub = await startHub(config, createLogger(config.logLevel));
    return hub.url!;
  };
  afterEach(async () => {
    await hub?.stop();
    hub = null;
  });

  it('shows each department\'s quiet period and objective from its adapter.yaml, and the node\'s readiness', async function () {
    const url = await start((c) => overrideAdapter(c, 'tax-bureau', { monitoring: { quietMinutes: 7 } }));
    assert.equal(await gauge(url, 'hub_adapter_quiet_seconds{adapter="market-regulation"}'), 3600);
    assert.equal(await gauge(url, 'hub_adapter_quiet_seconds{adapter="vehicle-office"}'), 1800);
    assert.equal(await gauge(url, 'hub_adapter_quiet_seconds{adapter="tax-bureau"}'), 420);
    assert.equal(await gauge(url, 'hub_adapter_end_to_end_objective_seconds{adapter="tax-bureau"}'), 600);
    assert.equal(await gauge(url, 'hub_ready'), 1);
  });

  it('shows the node not ready while /health/ready says so (no node runs the services its routes call)', async function () {
    const url = await start((c) => { c.services = ['gateway']; });
    assert.equal((await fetch(`${url}/health/ready`)).status, 503);
    assert.equal(await gauge(url, 'hub_ready'), 0);
  });

  it('takes a department\'s last message from what it sends, and after a restart from the store\'s newest raw message or dropped file', async function () {
    const before = Date.now() / 1000;
    let url = await start();
    // Nothing received yet: the start stands in for it.
    const started = (await gauge(url, 'hub_adapter_last_message_timestamp_seconds{adapter="market-regulation"}'))!;
    assert.ok(started >= before - 1, `${started} is the start`);
    await new Promise((r) => setTimeout(r, 1100));
    const sample = fs.readFileSync(path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-01.json'));
    assert.ok((await postBatch(`${url}/api/v1/inbound/market-regulation`, sample)).status < 300);
    const received = (await gauge(url, 'hub_adapter_last_message_timestamp_seconds{adapter="market-regulation"}'))!;
    assert.ok(received > started + 1, `the batch at ${received} is later than the start at ${started}`);
    // A file in the tax bureau's drop folder (taken within a second or so).
    const xml = path.join(ADAPTERS_DIR, 'tax-bureau', 'samples', 'SWSX_11301000000_20261124093000_0001.xml');
    await dropBatch(path.join(dataDir, 'drop', 'tax-bureau', 'inbox'), fs.readFileSync(xml), { name: path.basename(xml) });
    const dropped = await waitFor('the tax bureau\'s file to be taken', async () => {
      const at = (await gauge(url, 'hub_adapter_last_message_timestamp_seconds{adapter="tax-bureau"}'))!;
      return at > started + 1 && at;
    }, 30_000, 200);
    await hub!.stop();

    await new Promise((r) => setTimeout(r, 1100));
    const restart = Date.now() / 1000;
    url = await start();
    const remembered = (await gauge(url, 'hub_adapter_last_message_timestamp_seconds{adapter="market-regulation"}'))!;
    // The raw message was stored just before it was counted: within a second of it, before the restart.
    assert.ok(remembered <= received && remembered > received - 1, `restarted, the last message is the stored one (${remembered}), not the restart (${restart})`);
    // The file's claim in the drop ledger came before its records were counted.
    const file = (await gauge(url, 'hub_adapter_last_message_timestamp_seconds{adapter="tax-bureau"}'))!;
    assert.ok(file <= dropped && file > started, `restarted, the tax bureau's last message is its file (${file}), not the restart (${restart})`);
    // A department that never sent counts from this start.
    assert.ok((await gauge(url, 'hub_adapter_last_message_timestamp_seconds{adapter="vehicle-office"}'))! >= restart - 0.5);
  });

  it('says whether the office is open by the configured office hours', async function () {
    let url = await start((c) => { c.monitoring = { officeHours: { from: '00:00', to: '24:00', days: 'all' } }; });
    assert.equal(await gauge(url, 'hub_working_hours'), 1);
    await hub!.stop();
    // Hours that never open.
    url = await start((c) => { c.monitoring = { officeHours: { from: '00:00', to: '00:00', days: 'all' } }; });
    assert.equal(await gauge(url, 'hub_working_hours'), 0);
  });
});
