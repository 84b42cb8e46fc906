import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as iconv from 'iconv-lite';
import { XMLParser } from 'fast-xml-parser';
import { normaliseCitizenId } from '../../core/identifiers/citizen-id';
import { normalisePhone } from '../../core/identifiers/mobile';
import { normaliseUscc } from '../../core/identifiers/uscc';
import {
  REPORT_SOAP_ACTION, VehicleOfficePushSimulator, VehicleReport, VehicleReportStream, buildReportEnvelope, pushReport,
} from './vehicle-office';
import { Received, Reply, capturingLogger, startRecordingServer, waitFor, runAgainstMissingEndpoint } from './test-support';

const FIXTURES = path.resolve(__dirname, '../../../infra/simulators/fixtures');
const HALL_1 = { username: 'veh-hall-1', password: 'Veh1-demo-2026!' };
const HALL_2 = { username: 'veh-hall-2', password: 'Veh2-demo-2026!' };
const parser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false });

function sampleReport(over: Partial<VehicleReport> & { XM?: string; SFZMHM?: string; LXDH?: string }): VehicleReport {
  return {
    LSH: over.LSH ?? 'R20261124093105000001',
    GLBM: over.GLBM ?? '130100000401',
    SLBH: over.SLBH ?? '1301002026112400123',
    JGM: '',
    YWLX: over.YWLX ?? 'A',
    ZT: over.ZT ?? '1',
    ZTSJ: over.ZTSJ ?? '2026-11-24 09:31:05',
    SQR: { XM: over.XM ?? '王建国', SFZMMC: 'A', SFZMHM: over.SFZMHM ?? '130102198503120412', LXDH: over.LXDH ?? '138 3311 0425' },
    JBR: over.JBR ?? '李明',
    BZ: over.BZ ?? '',
  };
}

/** What a hub sees: the request decoded per its Content-Type and parsed. */
function readRequest(r: Received): { charset: string; xml: string; security: { Username: string; Password: string }; report: VehicleReport } {
  const charset = /charset=([^;]+)/i.exec(String(r.headers['content-type']))?.[1] ?? '';
  const xml = iconv.decode(r.body, charset);
  const doc = parser.parse(xml);
  return {
    charset,
    xml,
    security: doc.Envelope.Header.Security.UsernameToken,
    report: doc.Envelope.Body.ReportCaseStatusRequest,
  };
}

function answer(fhdm: number, fhxx = '成功', jgm = ''): Reply {
  return {
    status: 200,
    headers: { 'Content-Type': 'text/xml; charset=utf-8' },
    body:
      '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">' +
      '<soap:Body><veh:ReportCaseStatusResponse xmlns:veh="urn:gov:sjz:veh:exchange:v1">' +
      `<veh:FHDM>${fhdm}</veh:FHDM><veh:FHXX>${fhxx}</veh:FHXX><veh:JGM>${jgm}</veh:JGM>` +
      '</veh:ReportCaseStatusResponse></soap:Body></soap:Envelope>',
  };
}

function fault(code: 'soap:Client' | 'soap:Server', text: string): Reply {
  return {
    status: 500,
    headers: { 'Content-Type': 'text/xml; charset=utf-8' },
    body:
      '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">' +
      `<soap:Body><soap:Fault><faultcode>${code}</faultcode><faultstring>${text}</faultstring></soap:Fault></soap:Body></soap:Envelope>`,
  };
}

describe('simulators: vehicle office push', () => {
  it('lays envelopes out exactly like the office’s samples, UTF-8 and GBK', () => {
    const s01 = buildReportEnvelope(sampleReport({}), { ...HALL_1, encoding: 'utf8' });
    assert.equal(s01.toString('utf8'), fs.readFileSync(path.join(FIXTURES, '01-accepted-utf8.xml'), 'utf8'));
    const s02 = buildReportEnvelope(
      sampleReport({ LSH: 'R20261124141520000007', ZT: '3', ZTSJ: '2026-11-24 14:15:20', LXDH: '+86-138-3311-0425', BZ: '缺少机动车交通事故责任强制保险凭证' }),
      { ...HALL_1, encoding: 'utf8' },
    );
    assert.ok(s02.equals(fs.readFileSync(path.join(FIXTURES, '02-supplement-requested.xml'))));
    const s03 = buildReportEnvelope(
      sampleReport({
        LSH: 'R20261124101002000031', GLBM: '130100000402', SLBH: '1301002026112400588', YWLX: 'B', ZT: '0', ZTSJ: '2026-11-24 10:10:02',
        XM: '阿依古丽·买买提', SFZMHM: '１３０１０４１９９２１１０７３５２７', LXDH: '15931100786', JBR: '赵丽', BZ: '二手车交易市场代办',
      }),
      { ...HALL_2, encoding: 'gbk' },
    );
    assert.ok(s03.equals(fs.readFileSync(path.join(FIXTURES, '03-submitted-gbk.xml'))));
  });

  it('pushes with the SOAPAction and charset, and reads FHDM, FHXX and JGM', async () => {
    const hub = await startRecordingServer(() => answer(1, '接收成功', '130100202611240000000000'));
    try {
      const envelope = buildReportEnvelope(sampleReport({}), { ...HALL_2, encoding: 'gbk' });
      const a = await pushReport(`${hub.url}/soap/vehicle-office`, envelope, { encoding: 'gbk' });
      assert.deepEqual([a.status, a.fhdm, a.fhxx, a.jgm, a.fault], [200, 1, '接收成功', '130100202611240000000000', undefined]);
      const r = hub.received[0];
      assert.equal(r.headers.soapaction, '"urn:gov:sjz:veh:exchange:v1#ReportCaseStatus"');
      assert.equal(r.headers['content-type'], 'text/xml; charset=GBK');
      assert.ok(r.body.equals(envelope));
      await pushReport(hub.url, buildReportEnvelope(sampleReport({}), { ...HALL_1, encoding: 'utf8' }), { encoding: 'utf8' });
      assert.equal(hub.received[1].headers['content-type'], 'text/xml; charset=utf-8');
      assert.equal(REPORT_SOAP_ACTION, '"urn:gov:sjz:veh:exchange:v1#ReportCaseStatus"');
    } finally {
      await hub.close();
    }
  });

  it('reads a Fault, and survives an answer that is not SOAP', async () => {
    let reply: Reply = fault('soap:Client', '认证失败');
    const hub = await startRecordingServer(() => reply);
    try {
      const envelope = buildReportEnvelope(sampleReport({}), { ...HALL_1, encoding: 'utf8' });
      const a = await pushReport(hub.url, envelope, { encoding: 'utf8' });
      assert.deepEqual([a.status, a.fault, a.fhdm], [500, { faultcode: 'soap:Client', faultstring: '认证失败' }, undefined]);
      reply = { status: 404, body: '<html><body>Not Found</body></html>' };
      const b = await pushReport(hub.url, envelope, { encoding: 'utf8' });
      assert.deepEqual([b.status, b.fault, b.fhdm], [404, undefined, undefined]);
      assert.match(b.body, /Not Found/);
    } finally {
      await hub.close();
    }
  });

  it('streams plausible reports: every status, both halls, typed ID numbers and phones', () => {
    let now = Date.parse('2026-11-24T09:00:00+08:00');
    const stream = new VehicleReportStream({ seed: 11, clock: () => (now += 15_000) });
    const reports = Array.from({ length: 5000 }, () => stream.next());
    const set = (f: (r: VehicleReport) => string) => [...new Set(reports.map(f))].sort();
    assert.deepEqual(set((r) => r.ZT), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'E', 'G', 'H']);
    assert.deepEqual(set((r) => r.YWLX), ['A', 'B', 'D', 'J1', 'K']);
    assert.deepEqual(set((r) => r.GLBM), ['130100000401', '130100000402']);
    assert.deepEqual(set((r) => r.SQR.SFZMMC), ['A', 'B', 'E']);
    assert.equal(new Set(reports.map((r) => r.LSH)).size, reports.length);
    const ids = reports.filter((r) => r.SQR.SFZMMC === 'A').map((r) => r.SQR.SFZMHM);
    assert.ok(ids.some((id) => /[０-９]/.test(id)), 'full-width digits');
    assert.ok(ids.some((id) => id.endsWith('x')), 'lower-case x');
    assert.ok(ids.some((id) => /^\d{15}$/.test(id)), '15-digit legacy numbers');
    assert.ok(reports.some((r) => r.SQR.XM.includes('·')), 'a name with a middle dot');
    assert.ok(reports.some((r) => r.SQR.LXDH?.startsWith('+86')), '+86');
    const byCase = new Map<string, string[]>();
    for (const r of reports) byCase.set(r.SLBH, [...(byCase.get(r.SLBH) ?? []), r.ZT]);
    for (const [slbh, zts] of byCase) {
      assert.ok(!zts.includes('0') || zts[0] === '0', `${slbh}: ${zts}`);
      for (const final of ['8', '9', 'E']) assert.ok(!zts.includes(final) || zts.at(-1) === final, `${slbh}: ${zts}`);
      if (zts.includes('1') && zts.includes('7')) assert.ok(zts.indexOf('1') < zts.indexOf('7'), `${slbh}: ${zts}`);
    }
    let bad = 0;
    for (const r of reports) {
      assert.match(r.LSH, /^R\d{20}$/);
      assert.equal(r.LSH.slice(1, 15), r.ZTSJ.replace(/\D/g, ''));
      assert.match(r.SLBH, /^130100\d{13}$/);
      assert.match(r.ZTSJ, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.ok(normalisePhone(r.SQR.LXDH ?? '').ok, r.SQR.LXDH);
      assert.equal(iconv.decode(iconv.encode(r.SQR.XM + (r.BZ ?? ''), 'gbk'), 'gbk'), r.SQR.XM + (r.BZ ?? ''), 'GBK can carry it');
      if (r.SQR.SFZMMC === 'A' && !normaliseCitizenId(r.SQR.SFZMHM).ok) bad++;
      if (r.SQR.SFZMMC === 'E' && !normaliseUscc(r.SQR.SFZMHM).ok) bad++;
    }
    assert.ok(bad > 0 && bad < reports.length * 0.05, `${bad} bad ID numbers`);
  });

  it('pushes from both halls with their own credentials and encodings', async () => {
    const hub = await startRecordingServer(() => answer(1));
    const sim = new VehicleOfficePushSimulator({ url: `${hub.url}/soap/vehicle-office`, intervalMs: 5, seed: 12, logger: capturingLogger().logger });
    try {
      sim.start();
      await waitFor(() => hub.received.length >= 40, 3000, '40 reports');
      await sim.stop();
      const halls = new Set<string>();
      for (const r of hub.received) {
        assert.equal(r.url, '/soap/vehicle-office');
        assert.equal(r.headers.soapaction, REPORT_SOAP_ACTION);
        const { charset, xml, security, report } = readRequest(r);
        halls.add(report.GLBM);
        const hall2 = report.GLBM === '130100000402';
        assert.equal(charset, hall2 ? 'GBK' : 'utf-8');
        assert.ok(xml.startsWith(`<?xml version="1.0" encoding="${hall2 ? 'GBK' : 'UTF-8'}"?>`));
        assert.deepEqual({ ...security }, hall2 ? { Username: HALL_2.username, Password: HALL_2.password } : { Username: HALL_1.username, Password: HALL_1.password });
      }
      assert.equal(halls.size, 2);
    } finally {
      await sim.stop();
      await hub.close();
    }
  });

  it('retries on FHDM -9, a soap:Server Fault and a dropped connection; not on -1 or soap:Client', async () => {
    const kind = new Map<string, number>();
    const hub = await startRecordingServer((r) => {
      const lsh = readRequest(r).report.LSH;
      const first = !kind.has(lsh);
      if (first) kind.set(lsh, kind.size % 5);
      switch (kind.get(lsh)) {
        case 0: return first ? answer(-9, '系统繁忙') : answer(1);
        case 1: return first ? fault('soap:Server', '数据库不可用') : answer(1);
        case 2: return answer(-1, '身份证明号码校验位错误');
        case 3: return fault('soap:Client', '请求格式错误');
        default: return first ? { drop: true } : answer(1);
      }
    });
    const { logger, lines } = capturingLogger();
    const sim = new VehicleOfficePushSimulator({
      url: hub.url, intervalMs: 5, seed: 13, retry: { initialMs: 5, maxMs: 10 }, resendChance: 0, outOfOrderChance: 0, logger,
    });
    try {
      sim.start();
      await waitFor(() => kind.size >= 50, 3000, '50 distinct reports');
      await new Promise((r) => setTimeout(r, 100));
      await sim.stop();
      const attempts = new Map<string, number>();
      for (const r of hub.received) {
        const lsh = readRequest(r).report.LSH;
        attempts.set(lsh, (attempts.get(lsh) ?? 0) + 1);
      }
      const byKind = (k: number) => [...kind].filter(([, v]) => v === k).map(([lsh]) => attempts.get(lsh) ?? 0);
      for (const retried of [0, 1, 4]) {
        assert.ok(byKind(retried).filter((n) => n === 2).length >= 5 && byKind(retried).every((n) => n <= 2), `kind ${retried}: ${byKind(retried)}`);
      }
      for (const final of [2, 3]) assert.ok(byKind(final).length >= 5 && byKind(final).every((n) => n === 1), `kind ${final}: ${byKind(final)}`);
      assert.ok(lines.some((l) => /refused/.test(l.msg) && /FHDM -1/.test(String(l.reason))));
    } finally {
      await sim.stop();
      await hub.close();
    }
  });

  it('re-sends a report with its LSH, and sometimes sends two of one case out of order', async () => {
    const hub = await startRecordingServer(() => answer(1));
    const sim = new VehicleOfficePushSimulator({
      url: hub.url, intervalMs: 5, seed: 14, resendChance: 0.2, outOfOrderChance: 0.3, logger: capturingLogger().logger,
    });
    try {
      sim.start();
      await waitFor(() => hub.received.length >= 60, 3000, '60 reports');
      await sim.stop();
      const seen = new Map<string, string>();
      let resent = 0;
      for (const r of hub.received) {
        const { report } = readRequest(r);
        if (seen.has(report.LSH)) {
          assert.equal(r.body.toString('latin1'), seen.get(report.LSH), 'a re-sent report is the same bytes');
          resent++;
        }
        seen.set(report.LSH, r.body.toString('latin1'));
      }
      assert.ok(resent >= 3, `${resent} re-sent`);
      const reports = hub.received.map((r) => readRequest(r).report);
      const overtaken = reports.some((a, i) => reports.slice(i + 1).some((b) => b.SLBH === a.SLBH && b.ZTSJ < a.ZTSJ));
      assert.ok(overtaken, 'a later status of a case arrived before an earlier one');
    } finally {
      await sim.stop();
      await hub.close();
    }
  });

  it('warns once while the hub has no SOAP endpoint, and keeps the report', async () => {
    const { received, warnings } = await runAgainstMissingEndpoint((url, logger) => {
      const sim = new VehicleOfficePushSimulator({ url, intervalMs: 5, seed: 15, retry: { initialMs: 20, maxMs: 60 }, logger });
      sim.start();
      return sim;
    }, 400, 'Cannot POST /soap/vehicle-office');
    assert.equal(warnings.length, 1);
    assert.ok(received.length >= 3 && received.length <= 15, `${received.length} requests`);
    assert.equal(readRequest(received[1]).report.LSH, readRequest(received[0]).report.LSH);
  });
});
