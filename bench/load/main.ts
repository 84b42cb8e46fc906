// The load generator, in a process of its own beside the hub (or the baseline) it loads: forked by
// runLoad (jobs.ts), it takes one job over IPC, runs it, answers the result and ends.

import http from 'node:http';
import { signWebhook, WEBHOOK_SIGNATURE_HEADERS } from '../../core/kernel/webhook-signature';
import { marketBatch } from '../../test/bench/webhook-load';
import type { Job, WebhookJob, WebhookResult, PacedJob, PacedResult } from './jobs';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A batch of `size` new cases, its body and the signature headers, signed now. */
function signedBatch(job: { prefix: string; keyId: string; secret: string }, seq: number, size: number): { body: string; headers: Record<string, string>; events: { eventId: string }[] } {
  const batch = marketBatch(job.prefix, seq, size);
  const body = JSON.stringify(batch);
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    body,
    events: batch.events,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      [WEBHOOK_SIGNATURE_HEADERS.keyId]: job.keyId,
      [WEBHOOK_SIGNATURE_HEADERS.timestamp]: String(timestamp),
      [WEBHOOK_SIGNATURE_HEADERS.signature]: signWebhook(body, job.secret, timestamp),
    },
  };
}

/** This process's CPU so far (user + system), s. */
const cpuSpent = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

const count = (into: Record<string, number>, key: string) => { into[key] = (into[key] ?? 0) + 1; };

/** Accepted events in a webhook answer ({"results":[{"result":"accepted",…}]}). */
function acceptedIn(body: string): number {
  try {
    const results = (JSON.parse(body) as { results?: { result: string }[] }).results ?? [];
    return results.filter((r) => r.result === 'accepted').length;
  } catch {
    return 0;
  }
}

async function webhook(job: WebhookJob): Promise<WebhookResult> {
  const out: WebhookResult = { startedAt: Date.now(), endedAt: 0, requests: 0, ok: 0, accepted: 0, failures: {}, latencyMs: [], loadCpuSeconds: 0 };
  let seq = 0;
  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    duration: job.seconds,
    timeout: 30,
    requests: [{
      method: 'POST',
      setupRequest: (req: Record<string, unknown>) => {
        const { body, headers } = signedBatch(job, seq++, job.batch);
        return { ...req, body, headers };
      },
      onResponse: (status: number, body: string) => {
        if (status === 200) { out.ok++; out.accepted += acceptedIn(body); } else count(out.failures, `HTTP ${status}`);
      },
    }],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => { out.latencyMs.push(ms); });
  instance.on('reqError', (err: Error) => count(out.failures, err.message));
  await new Promise((resolve, reject) => instance.once('done', resolve).once('error', reject));
  out.endedAt = Date.now();
  out.requests = out.latencyMs.length;
  out.loadCpuSeconds = cpuSpent();
  return out;
}

function request(url: string, method: string, headers: Record<string, string>, body: string | null, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

const get = (url: string, headers: Record<string, string>, agent: http.Agent) => request(url, 'GET', headers, null, agent);

async function paced(job: PacedJob): Promise<PacedResult> {
  const out: PacedResult = { sent: 0, visibleMs: [], failures: {}, maxSendLagMs: 0, loadCpuSeconds: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const interval = 1000 / job.batchesPerSecond;
  const total = Math.max(1, Math.round(job.seconds * job.batchesPerSecond));
  const start = performance.now() + 20;
  const pending: Promise<void>[] = [];
  for (let k = 0; k < total; k++) {
    const due = start + k * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    out.maxSendLagMs = Math.max(out.maxSendLagMs, performance.now() - due);
    out.sent++;
    pending.push(oneBatch(job, k, due, agent).then((ms) => { out.visibleMs.push(ms); }, (err: Error) => count(out.failures, err.message)));
  }
  await Promise.all(pending);
  agent.destroy();
  out.loadCpuSeconds = cpuSpent();
  return out;
}

/** Posts batch k, then reads one of its cases until it is there: ms from `due` to that answer. */
async function oneBatch(job: PacedJob, k: number, due: number, agent: http.Agent): Promise<number> {
  const { body, headers, events } = signedBatch(job, k, job.batch);
  const answer = await request(job.url, 'POST', headers, body, agent);
  if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
  // The case of the batch's last event: every event of a batch is committed together.
  const results = (JSON.parse(answer.body) as { results: { eventId: string; result: string; supervisionCode?: string }[] }).results;
  const last = results[results.length - 1];
  if (!last || last.result !== 'accepted') throw new Error(`event not accepted: ${JSON.stringify(last)}`);
  const url = job.visibleUrl.replace('{code}', encodeURIComponent(last.supervisionCode ?? '')).replace('{eventId}', encodeURIComponent(events[events.length - 1].eventId));
  for (let tries = 0; ; tries++) {
    const r = await get(url, job.visibleHeaders, agent);
    if (r.status === 200) return performance.now() - due;
    if (r.status !== 404 || tries > 1000) throw new Error(`GET case: HTTP ${r.status}`);
    await sleep(2);
  }
}

process.once('message', (job: Job) => {
  const run = job.kind === 'webhook' ? webhook(job) : paced(job);
  run.then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (err: Error) => process.send!({ error: err.stack ?? err.message }, () => process.exit(1)),
  );
});
