// What the load process (bench/load/main.ts) is asked to do and what it answers, and the parent's
// side: fork it, give it one job, wait for its answer.

import path from 'node:path';
import { fork } from 'node:child_process';

/** Signed market-regulation batches of new cases, closed loop (autocannon), as fast as answered. */
export interface WebhookJob {
  kind: 'webhook';
  /** The webhook's full URL. */
  url: string;
  /** Events per request (1 for one event per request). */
  batch: number;
  connections: number;
  seconds: number;
  /** Case numbers start with it: unique per run, so that every event is a new case. */
  prefix: string;
  keyId: string;
  secret: string;
}

export interface WebhookResult {
  /** When the load began and ended (epoch ms; requests still in flight at the end are cut off). */
  startedAt: number;
  endedAt: number;
  requests: number;
  /** Requests answered 200, and the events those answers call accepted. */
  ok: number;
  accepted: number;
  /** Answers other than 200, errors and timeouts, by kind. */
  failures: Record<string, number>;
  /** Each answered request's time, ms. */
  latencyMs: number[];
  /** CPU the load process spent (user + system), s: near one core's worth, it may be what limits the rate. */
  loadCpuSeconds: number;
}

/**
 * Open loop: a batch every 1/rate seconds whatever the answers, then the case of one of its events
 * read at `visibleUrl` until it answers 200; the time from the batch's due moment to that answer.
 */
export interface PacedJob {
  kind: 'paced';
  url: string;
  batch: number;
  batchesPerSecond: number;
  seconds: number;
  prefix: string;
  keyId: string;
  secret: string;
  /** `{code}` is replaced by the supervision code the webhook answered, `{eventId}` by the event's id. */
  visibleUrl: string;
  visibleHeaders: Record<string, string>;
}

export interface PacedResult {
  sent: number;
  /** Batches whose case was seen, and the time each took (ms, from its due moment). */
  visibleMs: number[];
  failures: Record<string, number>;
  /** How late the generator sent, at most (ms): a large value means the pacing did not hold. */
  maxSendLagMs: number;
  loadCpuSeconds: number;
}

export type Job = WebhookJob | PacedJob;
export type JobResult<J extends Job> = J extends WebhookJob ? WebhookResult : PacedResult;

/** Runs a job in a load process of its own and answers its result. */
export function runLoad<J extends Job>(job: J): Promise<JobResult<J>> {
  const child = fork(path.join(__dirname, 'main.js'), [], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr = (stderr + c).slice(-4000); });
  return new Promise((resolve, reject) => {
    let answered = false;
    child.once('message', (m: { result?: JobResult<J>; error?: string }) => {
      answered = true;
      if (m.error) reject(new Error(`load process (${job.kind} ${job.url}): ${m.error}`));
      else resolve(m.result!);
    });
    child.once('exit', (code, signal) => {
      if (!answered) reject(new Error(`load process (${job.kind} ${job.url}) ended with ${code ?? signal} before answering:\n${stderr}`));
    });
    child.send(job);
  });
}
