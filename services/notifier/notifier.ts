import type { CanonicalStatus, CaseEvent } from '../../contracts/types';
import type { NotifierConfig } from '../../core/kernel/config';
import type { Logger } from '../../core/kernel/logger';
import type { HubMetrics } from '../../core/kernel/metrics';
import type { DataKeys } from '../../core/kernel/data-keys';
import type { Job, JobOutcome, JobQueue, JobState, JobWorker } from '../../core/ports/jobs';
import { SMS_QUEUE, SMS_TARGET, OutboundResult } from '../../core/kernel/constants';
import { normaliseMobile } from '../../core/identifiers';
import { maskPhone } from '../../core/identifiers/mask';
import { isSealedApplicant, openApplicant, StoredApplicant } from '../../core/ports/sealed-data';
import { statusLabel } from '../console/labels';
import type { SmsGateway, SmsTemplate } from './sms-gateway-client';

/** A notification waiting in the queue (its payload, sealed at rest by the queue). */
export interface SmsJob {
  code: string;
  item: string;
  status: CanonicalStatus;
  template: SmsTemplate;
  mobile: string;
  /** CASE_EVALUATE: the evaluation link, once fetched, so that every retry sends the same message. */
  link?: string;
  linkExpiresAt?: string;
}

/** What the evaluations service answers for a finished case (Moleculer action `evaluations.link`). */
export interface EvaluationLink {
  url: string;
  expiresAt?: string;
}

/** The statuses after which the applicant is asked to rate the service (好差评): SPEC, template CASE_EVALUATE. */
const EVALUATED: ReadonlySet<CanonicalStatus> = new Set(['COMPLETED', 'REJECTED']);

/**
 * The gateway's requestId, and the job's key, of a case's notification of a status: one per case and
 * status, whatever event brought it (re-sent, replayed, a second supplement request), so that the
 * applicant never gets the same notification twice, across retries and restarts.
 */
export function requestIdOf(supervisionCode: string, status: CanonicalStatus): string {
  return `${supervisionCode}-${status}`;
}

export function templateOf(status: CanonicalStatus): SmsTemplate {
  return EVALUATED.has(status) ? 'CASE_EVALUATE' : 'CASE_STATUS';
}

/** What became of an applied event: a notification queued, one already queued, or none to send. */
export type Taken = 'queued' | 'already-queued' | 'not-notified' | 'no-mobile';

export interface NotifierDeps {
  config: NotifierConfig;
  jobs: JobQueue;
  gateway: SmsGateway;
  /** The case's evaluation link; throws while it cannot be had (no node runs the evaluations service). */
  link(supervisionCode: string): Promise<EvaluationLink>;
  /** To open an applicant that reaches the notifier sealed. */
  keys: DataKeys;
  metrics: HubMetrics;
  logger: Logger;
}

/**
 * The SMS notifier: turns each applied event of a notified status into one queued notification of
 * its applicant's mobile, and delivers the queue to the gateway at its pace, retrying what it did
 * not take. The queue (the jobs port) keeps every notification until the gateway took it.
 */
export class Notifier {
  private worker: JobWorker | null = null;
  /** The outbound result of each attempt in progress, by key: what its outcome is counted as. */
  private readonly results = new Map<string, OutboundResult>();
  /** Whether the gateway failed last, and whether the last evaluation link could not be had: logged when they change, not for every message. */
  private gatewayDown = false;
  private linksDown = false;

  constructor(private readonly deps: NotifierDeps) {}

  /** The statuses whose applicants are told, for an item. */
  statusesFor(itemCode: string): readonly CanonicalStatus[] {
    return this.deps.config.items[itemCode]?.statuses ?? this.deps.config.statuses;
  }

  /**
   * Queues the notification an applied event asks for, durably, before the bus lets the event go.
   * Landlines and applicants without a number get none.
   */
  async take(event: CaseEvent): Promise<Taken> {
    const d = event.data;
    const code = event.subject ?? d.supervisionCode;
    if (!code) throw new Error(`event ${event.id} has no supervision code (subject): its notification has no requestId`);
    if (!this.statusesFor(d.item.code).includes(d.status)) return 'not-notified';
    const applicant = isSealedApplicant(d.applicant) ? openApplicant(this.deps.keys, d.applicant as StoredApplicant) : d.applicant;
    const mobile = mobileOf(applicant?.mobile) ?? mobileOf(applicant?.phone);
    if (!mobile) {
      this.deps.logger.debug({ supervisionCode: code, status: d.status, eventId: event.id }, 'no SMS: the applicant has no mobile number');
      return 'no-mobile';
    }
    const key = requestIdOf(code, d.status);
    const job: SmsJob = { code, item: d.item.name, status: d.status, template: templateOf(d.status), mobile };
    const added = await this.deps.jobs.add(SMS_QUEUE, key, job);
    this.deps.logger.debug({ requestId: key, eventId: event.id, mobile: maskPhone(mobile) }, added ? 'SMS queued' : 'SMS already queued for this case and status');
    return added ? 'queued' : 'already-queued';
  }

  /** Starts delivering the queue on this node. */
  start(): void {
    const { config, jobs } = this.deps;
    this.worker ??= jobs.work<SmsJob>(SMS_QUEUE, (job) => this.deliver(job), {
      concurrency: config.concurrency,
      ratePerSecond: config.ratePerSecond,
      backoff: { firstMs: config.retry.firstDelayMs, maxMs: config.retry.maxDelayMs },
      giveUpAfterMs: config.retry.giveUpHours * 3600_000,
      pollIntervalMs: config.pollIntervalMs,
      onOutcome: (job, outcome, state) => this.counted(job, outcome, state),
      onError: (err) => this.deps.logger.error({ err: (err as Error)?.message }, 'the SMS queue could not be read; trying again'),
    });
  }

  async stop(): Promise<void> {
    await this.worker?.stop();
    this.worker = null;
  }

  /** One attempt at a notification: its evaluation link first when it needs one, then the gateway. */
  async deliver(job: Job<SmsJob>): Promise<JobOutcome<SmsJob>> {
    let p = job.payload;
    if (p.template === 'CASE_EVALUATE' && (!p.link || expired(p.linkExpiresAt))) {
      try {
        const link = await this.deps.link(p.code);
        if (!link?.url || !/^https?:\/\//.test(link.url)) throw new Error(`evaluations.link answered no absolute url (${JSON.stringify(link?.url ?? null)})`);
        p = { ...p, link: link.url, ...(link.expiresAt ? { linkExpiresAt: link.expiresAt } : {}) };
        if (this.linksDown) this.deps.logger.info('evaluation links are answered again: the SMS that waited for them go out');
        this.linksDown = false;
      } catch (err) {
        // Never sent without its link, and never lost: the job waits for the evaluations service.
        if (!this.linksDown) this.deps.logger.warn({ requestId: job.key, err: (err as Error)?.message }, 'no evaluation link: SMS with one wait in the queue and are retried');
        this.linksDown = true;
        this.deps.logger.debug({ requestId: job.key, attempt: job.attempt, err: (err as Error)?.message }, 'no evaluation link yet');
        return { outcome: 'retry', reason: `no evaluation link for ${p.code} yet: ${(err as Error)?.message ?? String(err)}` };
      }
    }
    const params = { code: p.code, item: p.item, status: statusLabel(p.status), ...(p.template === 'CASE_EVALUATE' ? { link: p.link } : {}) };
    const answer = await this.deps.gateway.send({ requestId: job.key, mobile: p.mobile, template: p.template, params }, job.signal);
    // What this attempt learned (the link) goes with its retry.
    const learned = p !== job.payload ? { payload: p } : {};
    switch (answer.kind) {
      case 'accepted':
        this.results.set(job.key, 'sent');
        this.gatewayIs(true, null);
        this.deps.logger.debug({ requestId: job.key, messageId: answer.messageId, mobile: maskPhone(p.mobile), attempt: job.attempt }, 'SMS sent');
        return { outcome: 'done', result: { messageId: answer.messageId, status: answer.status } };
      case 'throttled':
        this.results.set(job.key, 'throttled');
        this.deps.logger.debug({ requestId: job.key, retryAfterMs: answer.retryAfterMs }, 'SMS gateway over its limit: the queue pauses');
        // The gateway's limit is the whole queue's: nothing is sent, from any node, before it said.
        return { outcome: 'retry', reason: answer.reason, afterMs: answer.retryAfterMs, pauseQueue: true, ...learned };
      case 'unavailable':
        this.results.set(job.key, 'error');
        this.gatewayIs(false, answer.reason);
        return { outcome: 'retry', reason: answer.reason, ...learned };
      case 'refused':
        this.results.set(job.key, 'rejected');
        return { outcome: 'failed', reason: answer.reason };
    }
  }

  /** Counts an attempt in hub_outbound_total, and logs what an operator must see: a notification given up. */
  private counted(job: Job<SmsJob>, outcome: JobOutcome<SmsJob>, state: JobState): void {
    let result = this.results.get(job.key);
    this.results.delete(job.key);
    if (state === 'released') return;
    if (state === 'dead') {
      if (result !== 'rejected') result = 'expired';
      const reason = outcome.outcome === 'done' ? null : outcome.reason;
      this.deps.logger.error({ requestId: job.key, attempts: job.attempt, reason, mobile: job.payload?.mobile ? maskPhone(job.payload.mobile) : undefined },
        result === 'rejected' ? 'SMS refused by the gateway: given up (a dead job)' : 'SMS not sent within the give-up age: given up (a dead job)');
    }
    // An attempt that never reached the gateway (no link yet) is no outbound delivery.
    if (result) this.deps.metrics.outbound.inc({ target: SMS_TARGET, result });
  }

  private gatewayIs(up: boolean, reason: string | null): void {
    if (up === !this.gatewayDown) return;
    this.gatewayDown = !up;
    if (up) this.deps.logger.info('SMS gateway takes messages again');
    else this.deps.logger.warn({ reason }, 'SMS gateway does not take messages: they wait in the queue and are retried');
  }
}

/** A mobile number an SMS can reach, normalised (SPEC: 11 digits from 1, after +86, spaces and dashes); null for a landline or none. */
function mobileOf(value: string | null | undefined): string | null {
  if (!value) return null;
  const m = normaliseMobile(value);
  return m.ok ? String(m.value) : null;
}

/** A link that will have run out before the applicant could open it (a minute's margin). */
function expired(expiresAt: string | undefined): boolean {
  if (!expiresAt) return false;
  const at = Date.parse(expiresAt);
  return !Number.isNaN(at) && at < Date.now() + 60_000;
}
