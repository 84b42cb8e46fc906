import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as soap from 'soap';
import { VehicleQueryService, VehicleReport, generateChanges, startVehicleQueryService } from './vehicle-office';
import { wsdlPath } from './vehicle-query-service';

type Page = { ZYS: number; Record?: VehicleReport[] };
type QueryClient = { QueryChangedCasesAsync(args: { KSSJ: string; YS: number }): Promise<[Page, string]> };

/** The hub's side: node-soap's client built from the office's WSDL, with WS-Security. */
async function queryClient(service: VehicleQueryService, password = 'Poll-demo-2026!', username = 'hub-poller'): Promise<QueryClient> {
  const client = await soap.createClientAsync(wsdlPath(), {}, service.url);
  client.setSecurity(new soap.WSSecurity(username, password));
  return client as unknown as QueryClient;
}

const sortKey = (r: VehicleReport) => `${r.ZTSJ}|${r.LSH}`;

describe('simulators: vehicle office query service', () => {
  let service: VehicleQueryService;
  afterEach(async () => service?.close());

  it('generates changes with runs of equal ZTSJ that cross the 100-record page boundary', () => {
    const changes = generateChanges(1000, { start: '2026-11-24 08:00:00', seed: 1 });
    assert.equal(changes.length, 1000);
    assert.equal(new Set(changes.map((r) => r.LSH)).size, 1000);
    const sorted = [...changes].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    assert.deepEqual(sorted.map((r) => r.LSH), changes.map((r) => r.LSH), 'already in ZTSJ, LSH order');
    const runs = new Map<string, number>();
    for (const r of changes) runs.set(r.ZTSJ, (runs.get(r.ZTSJ) ?? 0) + 1);
    assert.ok([...runs.values()].some((n) => n >= 30));
    const crossing = [100, 200, 300, 400, 500, 600, 700, 800, 900].filter((i) => changes[i - 1].ZTSJ === changes[i].ZTSJ);
    assert.ok(crossing.length >= 2, `ties across page boundaries at ${crossing}`);
    assert.deepEqual([...new Set(changes.map((r) => r.GLBM))].sort(), ['130100000401', '130100000402']);
    assert.deepEqual(generateChanges(50, { start: '2026-11-24 08:00:00', seed: 1 }), changes.slice(0, 50));
  });

  it('serves 1,000 records over 10 pages of 100, in ZTSJ then LSH order', async () => {
    service = await startVehicleQueryService({ port: 0 });
    const changes = generateChanges(1000, { start: '2026-11-24 08:00:00', seed: 2 });
    service.addRecords([...changes].reverse());
    const client = await queryClient(service);
    const all: VehicleReport[] = [];
    for (let ys = 1; ys <= 10; ys++) {
      const [page] = await client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: ys });
      assert.equal(page.ZYS, 10);
      assert.equal(page.Record?.length, 100);
      all.push(...page.Record!);
    }
    const [beyond] = await client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 11 });
    assert.deepEqual([beyond.ZYS, beyond.Record], [10, undefined]);
    assert.deepEqual(all.map((r) => r.LSH), changes.map((r) => r.LSH));
    assert.deepEqual(all[0], changes[0]);
    assert.equal(service.requests, 11);
    assert.deepEqual(service.records().map((r) => r.LSH), changes.map((r) => r.LSH));
  });

  it('selects ZTSJ >= KSSJ, and answers ZYS 0 when nothing matches', async () => {
    const changes = generateChanges(250, { start: '2026-11-24 08:00:00', seed: 3, tiesEvery: 0 });
    service = await startVehicleQueryService({ port: 0, records: changes });
    const client = await queryClient(service);
    const kssj = changes[120].ZTSJ;
    const [page] = await client.QueryChangedCasesAsync({ KSSJ: kssj, YS: 1 });
    const expected = changes.filter((r) => r.ZTSJ >= kssj);
    assert.equal(page.ZYS, Math.ceil(expected.length / 100));
    assert.equal(page.Record![0].LSH, expected[0].LSH);
    const [none] = await client.QueryChangedCasesAsync({ KSSJ: '2027-01-01 00:00:00', YS: 1 });
    assert.deepEqual([none.ZYS, none.Record], [0, undefined]);
  });

  it('shows changes added between two page requests, with equal ZTSJ across the boundary', async () => {
    const changes = generateChanges(150, { start: '2026-11-24 08:00:00', seed: 4, tiesEvery: 0 });
    const tie = changes[149].ZTSJ;
    // The last 60 share one ZTSJ, so page 1 ends in the middle of them.
    const records = changes.map((r, i) => (i >= 90 ? { ...r, ZTSJ: tie, LSH: `R${tie.replace(/\D/g, '')}${String(500_000 + i).padStart(6, '0')}` } : r));
    service = await startVehicleQueryService({ port: 0, records });
    const client = await queryClient(service);
    const [p1] = await client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 1 });
    assert.deepEqual([p1.ZYS, p1.Record?.length, p1.Record?.[99].ZTSJ], [2, 100, tie]);

    // New changes at the same second, some sorting before records already served.
    const added = generateChanges(80, { start: tie, seed: 5, tiesEvery: 0 }).map((r, i) => ({ ...r, ZTSJ: tie, LSH: `R${tie.replace(/\D/g, '')}${String(i % 2 ? 100 + i : 900_000 + i).padStart(6, '0')}` }));
    service.addRecords(added);
    const [p2] = await client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 2 });
    assert.equal(p2.ZYS, 3);
    const [p3] = await client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 3 });
    const served = new Set([...p1.Record!, ...p2.Record!, ...p3.Record!].map((r) => r.LSH));
    const later = added.filter((r) => served.has(r.LSH));
    assert.ok(later.length > 0 && later.length < added.length, 'some new records fell on pages already read: the hub must re-read from the tie');

    assert.throws(() => service.addRecords([{ ...added[0], LSH: 'R20261124080000999999', ZTSJ: '2026-11-24 08:00:00' }]), /earlier than/);
    assert.throws(() => service.addRecords([added[0]]), /already there/);
  });

  it('refuses a bad password, or none, with a soap:Client Fault', async () => {
    service = await startVehicleQueryService({ port: 0, records: generateChanges(10, { start: '2026-11-24 08:00:00', seed: 6 }) });
    for (const client of [await queryClient(service, 'wrong'), await queryClient(service, 'Veh1-demo-2026!', 'veh-hall-1')]) {
      await assert.rejects(client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 1 }), (err: Error & { root?: { Envelope: { Body: { Fault: { faultcode: string } } } } }) => {
        assert.equal(err.root?.Envelope.Body.Fault.faultcode, 'soap:Client');
        return true;
      });
    }
    const anonymous = (await soap.createClientAsync(wsdlPath(), {}, service.url)) as unknown as QueryClient;
    await assert.rejects(anonymous.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 1 }), /soap:Client/);
  });

  it('refuses a malformed KSSJ or page number with a soap:Client Fault', async () => {
    service = await startVehicleQueryService({ port: 0 });
    const client = await queryClient(service);
    await assert.rejects(client.QueryChangedCasesAsync({ KSSJ: '2026/11/24', YS: 1 }), /soap:Client.*KSSJ/);
    await assert.rejects(client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 0 }), /soap:Client.*YS/);
  });

  it('serves its WSDL with its own address', async () => {
    service = await startVehicleQueryService({ port: 0, path: '/county/query' });
    const wsdl = await new Promise<string>((resolve, reject) =>
      http.get(`${service.url}?wsdl`, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      }).on('error', reject),
    );
    assert.ok(wsdl.includes(service.url), 'the query port points at this instance');
    const client = await queryClient(service);
    const [page] = await client.QueryChangedCasesAsync({ KSSJ: '2026-11-24 08:00:00', YS: 1 });
    assert.equal(page.ZYS, 0);
  });
});
