// The vehicle office's halls pushing status reports (ReportCaseStatus, SOAP 1.1 with a
// UsernameToken), for `make bench`'s soap scenario: a process of its own, forked by
// bench/scenarios/soap.ts, which sends it what to load and gets the figures back.
//
// `concurrency` senders post new reports, each envelope built as it is sent, until `reports` have
// been answered. Every report is new (its own LSH, never a retry): the simulator's life-cycles of
// 车管一所 (UTF-8), a new case or the next status of one already reported. The server's CPU time is
// read from /proc at the start, after each third of the reports and at the end, so that the cost
// per report can be told apart as the store grows.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { VEHICLE_HALLS, VehicleReportStream, buildReportEnvelope } from '../../infra/simulators/vehicle-office';
import { REPORT_SOAP_ACTION } from '../../infra/simulators/vehicle-office';
import { cpuSeconds } from '../../test/support/hub';
import { percentile } from '../harness';

export interface SoapLoadRequest {
  /** The push endpoint, e.g. http://127.0.0.1:41234/soap/vehicle-office. */
  url: string;
  reports: number;
  concurrency: number;
  /** Sets the reports apart from every other run's against the same store (LSH and SLBH). */
  tag: number;
  /** The server's process, whose CPU time is read at each third. */
  serverPid: number;
}

export interface SoapLoadThird {
  reports: number;
  seconds: number;
  /** The server's CPU seconds (user + system) within this third. */
  cpuSeconds: number;
  p50Ms: number;
  p99Ms: number;
}

export interface SoapLoadResult {
  /** Answers with FHDM 1 (accepted, or a duplicate: none is sent). */
  accepted: number;
  /** Other answers by kind (FHDM -1, -9, a Fault, an HTTP error), with their count. */
  refused: Record<string, number>;
  /** An example of each refusal, for the log. */
  examples: Record<string, string>;
  /** From the first request sent to the last answer. */
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  cpuSeconds: number;
  thirds: SoapLoadThird[];
  /** CPU seconds of this process over the run (building envelopes, HTTP). */
  loadCpuSeconds: number;
  /** TCP connections opened: `concurrency` when the server keeps them alive. */
  connections: number;
}

/** The reports' stream after this many of them: a fresh one keeps every SLBH in its daily serial range. */
const STREAM_REPORTS = 20_000;

/** Envelopes of new reports, tagged so that no two runs share an LSH or an SLBH. */
function envelopes(tag: number): () => Buffer {
  const hall = VEHICLE_HALLS[0];
  let made = 0;
  let part = -1;
  let stream: VehicleReportStream | null = null;
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return () => {
    if (made++ % STREAM_REPORTS === 0) {
      part++;
      stream = new VehicleReportStream({ seed: `bench-soap-${tag}-${part}`, halls: [hall.GLBM], badIdChance: 0, poolSize: 200 });
    }
    const r = stream!.next();
    const mark = `${pad(tag % 100, 2)}${pad(part % 1000, 3)}`;
    // The region prefix of SLBH (130100) and the first digits of LSH carry the mark instead.
    r.SLBH = `1301${mark}${r.SLBH.slice(6)}`;
    r.LSH = `R${mark}${r.LSH.slice(1)}`;
    return buildReportEnvelope(r, { username: hall.username, password: hall.password, encoding: hall.encoding });
  };
}

function post(agent: http.Agent, url: URL, body: Buffer, sockets: Set<unknown>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent,
      headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: REPORT_SOAP_ACTION, 'Content-Length': body.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('socket', (socket) => sockets.add(socket));
    req.end(body);
  });
}

/** What kind of answer: 'accepted' for FHDM 1, else a short label of the refusal. */
function kindOf(status: number, text: string): string {
  const code = /<(?:[\w-]+:)?FHDM>\s*(-?\d+)\s*</.exec(text)?.[1];
  if (code === '1') return 'accepted';
  if (code !== undefined) return `FHDM ${code}`;
  if (/Fault>/.test(text)) return `Fault (HTTP ${status})`;
  return `HTTP ${status}`;
}

export async function loadSoap(req: SoapLoadRequest): Promise<SoapLoadResult> {
  const url = new URL(req.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: req.concurrency });
  const next = envelopes(req.tag);
  const latencies: number[] = [];
  const refused: Record<string, number> = {};
  const examples: Record<string, string> = {};
  const sockets = new Set<unknown>();
  let accepted = 0;
  let sent = 0;
  let answered = 0;
  const cut = [Math.round(req.reports / 3), Math.round((2 * req.reports) / 3), req.reports];
  const cpu = () => { const c = cpuSeconds(req.serverPid); return c.user + c.system; };
  const marks: { at: number; cpu: number; answered: number }[] = [];
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  marks.push({ at: started, cpu: cpu(), answered: 0 });
  const sender = async () => {
    while (sent < req.reports) {
      sent++;
      const body = next();
      const t = performance.now();
      let kind: string;
      try {
        const a = await post(agent, url, body, sockets);
        kind = kindOf(a.status, a.text);
        if (kind !== 'accepted' && !examples[kind]) examples[kind] = a.text.slice(0, 600);
      } catch (err) {
        kind = `error: ${(err as Error).message}`;
      }
      latencies.push(performance.now() - t);
      if (kind === 'accepted') accepted++;
      else refused[kind] = (refused[kind] ?? 0) + 1;
      answered++;
      if (answered === cut[marks.length - 1]) marks.push({ at: performance.now(), cpu: cpu(), answered });
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, sender));
  agent.destroy();
  const own = process.cpuUsage(ownBefore);
  const thirds = marks.slice(1).map((m, i) => {
    const lat = latencies.slice(marks[i].answered, m.answered);
    return { reports: m.answered - marks[i].answered, seconds: (m.at - marks[i].at) / 1000, cpuSeconds: m.cpu - marks[i].cpu, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
  });
  const last = marks[marks.length - 1];
  return {
    accepted, refused, examples,
    seconds: (last.at - started) / 1000,
    p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99),
    cpuSeconds: last.cpu - marks[0].cpu,
    thirds,
    loadCpuSeconds: (own.user + own.system) / 1e6,
    connections: sockets.size,
  };
}

// Forked: one request in, one result (or error) out, then exit.
if (require.main === module && process.send) {
  process.once('message', (msg: SoapLoadRequest) => {
    loadSoap(msg).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err) => process.send!({ error: (err as Error).stack ?? String(err) }, () => process.exit(1)),
    );
  });
}
