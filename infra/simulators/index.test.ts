import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as soap from 'soap';
import { startSimulators } from './index';
import { Received, capturingLogger, startRecordingServer, waitFor, runAgainstMissingEndpoint } from './test-support';
import { wsdlPath } from './vehicle-query-service';

function fhdm1(r: Received) {
  if (r.url.startsWith('/soap/')) {
    return {
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      body:
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ReportCaseStatusResponse xmlns="urn:gov:sjz:veh:exchange:v1">' +
        '<FHDM>1</FHDM><FHXX>成功</FHXX><JGM></JGM></ReportCaseStatusResponse></soap:Body></soap:Envelope>',
    };
  }
  return { headers: { 'Content-Type': 'application/json' }, body: '{"results":[]}' };
}

describe('simulators: all four beside a hub', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-data-'))));
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('sends to the hub’s endpoints, drops into its inbox and serves the query', async () => {
    const hub = await startRecordingServer(fhdm1);
    const sims = await startSimulators({ hubUrl: `${hub.url}/`, dataDir, queryPort: 0, logger: capturingLogger().logger, pace: 0.02, seed: 1 });
    try {
      const inbox = path.join(dataDir, 'drop', 'tax-bureau', 'inbox');
      const paths = () => new Set(hub.received.map((r) => r.url));
      await waitFor(
        () => paths().has('/api/v1/inbound/market-regulation') && paths().has('/soap/vehicle-office') && fs.existsSync(inbox) && fs.readdirSync(inbox).some((f) => f.endsWith('.ok')),
        3000,
        'traffic from every simulator',
      );
      assert.deepEqual([...paths()].sort(), ['/api/v1/inbound/market-regulation', '/soap/vehicle-office']);

      const client = await soap.createClientAsync(wsdlPath(), {}, sims.queryService!.url);
      client.setSecurity(new soap.WSSecurity('hub-poller', 'Poll-demo-2026!'));
      const [page] = await (client as unknown as { QueryChangedCasesAsync(a: object): Promise<[{ ZYS: number; Record: unknown[] }]> }).QueryChangedCasesAsync({
        KSSJ: '2000-01-01 00:00:00',
        YS: 1,
      });
      assert.ok(page.ZYS >= 2 && page.Record.length === 100, 'hours of history to page through');
    } finally {
      await sims.stop();
      await hub.close();
    }
  });

  it('warns once per endpoint while the hub has none of them', async () => {
    const { received, warnings } = await runAgainstMissingEndpoint(
      (hubUrl, logger) => startSimulators({ hubUrl, dataDir, queryPort: 0, logger, pace: 0.02, seed: 2 }), 800);
    assert.deepEqual(warnings.map((l) => l.simulator).sort(), ['market-regulation', 'vehicle-office-push']);
    assert.ok(received.length < 40, `${received.length} requests in 800 ms`);
  });
});
