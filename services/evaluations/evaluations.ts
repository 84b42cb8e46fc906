import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Errors } from 'moleculer';
import type { DataKeys } from '../../core/kernel/data-keys';
import type { EvaluationsConfig } from '../../core/kernel/config';
import type { Logger } from '../../core/kernel/logger';
import type { HubMetrics } from '../../core/kernel/metrics';
import type { Leases } from '../../core/ports/jobs';
import { STATUS_CLASSES } from '../../core/kernel/constants';
import { maskText } from '../../core/kernel/personal-data';
import { openApplicant } from '../../core/ports/sealed-data';
import { LeasedPoll } from '../../core/jobs/leased-poll';
import { WorkingCalendar, CalendarYear, dayOf, endOfDay } from '../../core/calendar/working-calendar';
import { beijingIso } from '../../core/identifiers/local-time';
import type { ListCursor } from '../../core/kernel/list-cursor';
import type { CaseFacts, EvaluationRow, EvaluationStore, FollowUpFilter, EvaluationStatsRow } from './evaluation-store';
import { SEALED_EVALUATION } from './sealed-columns';

/** The job name of the follow-up sweep's lease (table job_leases). */
export const FOLLOW_UP_SWEEP_LEASE = 'evaluations:follow-up-sweep';

/** The ratings, as the page offers them (5 the best). */
export const RATING_LABELS: Readonly<Record<number, string>> = { 5: '非常满意', 4: '满意', 3: '基本满意', 2: '不满意', 1: '非常不满意' };

/** A rating of this or less is bad (差评) and opens a follow-up. */
export const BAD_RATING = 2;
/** A rating of this or more counts as satisfied in the satisfaction rate. */
export const SATISFIED_RATING = 4;

/** Refusals, Chinese first (DESIGN.md "Additions to v1", Reasons). */
export const REASONS = {
  linkUnknown: '评价链接无效或已过期 (this evaluation link is unknown or has expired)',
  evaluatedAlready: '该办件已评价，每件办件只能评价一次 (this case has been evaluated already: one evaluation per case)',
  notFinished: '办件尚未办结，暂不能评价 (the case is not finished: it cannot be evaluated yet)',
  evaluationUnknown: '没有这条评价 (no such evaluation)',
  noFollowUp: '该评价无需回访：只有差评（2 分及以下）需要回访 (this evaluation needs no follow-up: only ratings of 2 or less are followed up)',
  closedAlready: '该差评的回访已经办结 (the follow-up of this evaluation is closed already)',
  overdue: '差评回访逾期未办结 (the follow-up of a bad evaluation is past its due time)',
} as const;

/** A token is the base64url of 32 random bytes: 43 characters. Anything else is not one, and is not looked up. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const DAY_MS = 86_400_000;
/** Follow-ups raised per transaction of the sweep. */
const SWEEP_BATCH = 500;

/** Who calls: the token's name and the departments it is limited to (none: every one). */
export interface Caller {
  name: string;
  departments?: readonly string[];
}

/** An evaluation as the department and supervisor lists show it: comment and note masked. */
export interface EvaluationItem {
  id: string;
  supervisionCode: string;
  department: { code: string; name: string; hall?: { code: string; name: string } };
  item: { code: string; name: string };
  rating: number;
  ratingLabel: string;
  comment: string | null;
  submittedAt: string;
  followUp: null | { dueAt: string; late: boolean; closedAt: string | null; closedBy: string | null; note: string | null; alertId: string | null };
}

/** Per department, what the statistics gain (merged into GET /api/v1/stats/departments). */
export interface EvaluationStats {
  code: string;
  name: string;
  evaluations: number;
  /** Ratings of 4 or 5 over all ratings, 0..1; null when there is none. */
  satisfactionRate: number | null;
  /** Ratings of 2 or less (差评). */
  badCount: number;
  /** Follow-ups closed by their due time; closed after it or still open past it; not closed. */
  followUps: { onTime: number; late: number; open: number };
}

export interface EvaluationsDeps {
  store: EvaluationStore;
  keys: DataKeys;
  config: EvaluationsConfig;
  /** The working-day calendar's loaded years (the supervisor's). */
  years: readonly CalendarYear[];
  /** The hub's clock: link expiry, due times and the sweep follow it. */
  clock: () => Date;
  /** What links start with: the configured public URL, or the hub's own address. */
  baseUrl: () => string;
  leases: Leases;
  metrics: HubMetrics;
  logger: Logger;
}

const notFound = (reason: string, type = 'not-found') => new Errors.MoleculerClientError(reason, 404, type);
const conflict = (reason: string, type: string) => new Errors.MoleculerClientError(reason, 409, type);

/**
 * Evaluations (好差评): the applicant's link (one per case and applicant, its token random and
 * kept sealed, found by its hash), the one evaluation per case, the follow-up a bad rating opens (due a
 * number of working days later by the supervision calendar), its closing by the department, the
 * sweep that raises one alert per follow-up left open past its due time, the list and the
 * statistics.
 */
export class Evaluations {
  readonly calendar: WorkingCalendar;
  private readonly job: LeasedPoll<void>;
  private readonly warnedYears = new Set<number>();

  constructor(private readonly deps: EvaluationsDeps) {
    this.calendar = new WorkingCalendar(deps.years, (year) => this.fellBack(year));
    const seconds = deps.config.sweepSeconds;
    // A leased job like the supervisor's sweep: one node of a cluster raises the alerts at a time.
    this.job = new LeasedPoll<void>({
      name: FOLLOW_UP_SWEEP_LEASE, leases: deps.leases, leaseSeconds: Math.max(30, seconds * 3),
      intervalMs: seconds * 1000, maxBackoffMs: Math.max(60_000, seconds * 1000), logger: deps.logger,
      says: { held: 'this node now sweeps the overdue evaluation follow-ups', elsewhere: 'another node sweeps the overdue evaluation follow-ups' },
      progress: async () => undefined,
      round: async (_progress, round) => {
        await this.sweep(round.signal);
        return 'done';
      },
      onError: (err, failures, retryInMs) => deps.logger.error({ err: (err as Error).message, failures, retryInMs }, 'evaluation follow-up sweep failed; it runs again after a pause'),
    });
  }

  private fellBack(year: number): void {
    this.deps.metrics.calendarFallback.inc();
    if (this.warnedYears.has(year)) return;
    this.warnedYears.add(year);
    this.deps.logger.warn({ year, loaded: this.calendar.years() },
      `no working-day calendar for ${year} is loaded: evaluation follow-ups due in it count by weekdays alone until its notice is added (hub calendar check FILE)`);
  }

  /**
   * The case's evaluation link for its applicant: the same on every call (the SMS notifier may ask
   * again for a re-sent message), expiring `linkDays` after it was first issued. A case that is not
   * finished (a final status) has none yet; a case whose applicant changed gets another link.
   */
  async link(code: string): Promise<{ token: string; url: string; expiresAt: string }> {
    const { store, keys } = this.deps;
    const facts = await store.caseFacts(code);
    if (!facts) throw notFound(`没有这个办件 (no case with supervision code ${code})`, 'case-not-found');
    if (!STATUS_CLASSES.final.includes(facts.status)) throw conflict(REASONS.notFinished, 'case-not-finished');
    const { idNumber } = openApplicant(keys, facts.applicant);
    const { link, issued } = await store.linkOf(code, (l) => keys.open(l.applicant, SEALED_EVALUATION.linkApplicant) === idNumber, () => {
      // 256 random bits: not guessed, and not derived from anything the case shows.
      const token = randomBytes(32).toString('base64url');
      const now = this.deps.clock().getTime();
      return {
        tokenHash: hashToken(token), supervisionCode: code,
        applicant: keys.seal(idNumber, SEALED_EVALUATION.linkApplicant), token: keys.seal(token, SEALED_EVALUATION.linkToken),
        issuedAtMs: now, expiresAtMs: now + this.deps.config.linkDays * DAY_MS,
      };
    });
    if (issued) this.deps.logger.info({ supervisionCode: code, expiresAt: beijingIso(new Date(link.expiresAtMs)) }, 'evaluation link issued');
    const token = keys.open(link.token, SEALED_EVALUATION.linkToken);
    return { token, url: `${this.deps.baseUrl()}/e/${token}`, expiresAt: isoWithMs(link.expiresAtMs) };
  }

  /**
   * What a presented token opens: its link, case and evaluation (null if none yet). An unknown
   * token, one that is not a token's shape, and an expired one all answer 404 alike.
   */
  async open(token: string): Promise<{ facts: CaseFacts; evaluation: EvaluationRow | null; tokenHash: string; expiresAt: string }> {
    const { store } = this.deps;
    if (!TOKEN.test(token)) throw notFound(REASONS.linkUnknown, 'link-not-found');
    const tokenHash = hashToken(token);
    const link = await store.linkByHash(tokenHash);
    if (!link || link.expiresAtMs <= this.deps.clock().getTime()) throw notFound(REASONS.linkUnknown, 'link-not-found');
    const facts = await store.caseFacts(link.supervisionCode);
    if (!facts) throw notFound(REASONS.linkUnknown, 'link-not-found');
    return { facts, evaluation: await store.byCase(link.supervisionCode), tokenHash, expiresAt: isoWithMs(link.expiresAtMs) };
  }

  /**
   * The applicant's answer through a link: one per case (a second, through any link, is refused
   * 409). A rating of 2 or less opens a follow-up due at the end of the `followUpWorkingDays`-th
   * working day after the evaluation's day, by the supervision calendar.
   */
  async submit(token: string, rating: number, comment: string | undefined): Promise<EvaluationRow> {
    const { store, keys } = this.deps;
    const { facts, evaluation, tokenHash } = await this.open(token);
    if (evaluation) throw conflict(REASONS.evaluatedAlready, 'evaluated-already');
    const now = this.deps.clock();
    const text = comment?.trim() ? comment.trim() : null;
    const followUpDue = rating <= BAD_RATING ? endOfDay(this.calendar.addWorkingDays(dayOf(now), this.deps.config.followUpWorkingDays)) : null;
    const id = randomUUID();
    const added = await store.addEvaluation({
      id, facts, tokenHash, rating, comment: text === null ? null : keys.seal(text, SEALED_EVALUATION.comment), submittedAt: now, followUpDue,
    });
    if (!added) throw conflict(REASONS.evaluatedAlready, 'evaluated-already');
    this.deps.logger.info({ evaluationId: id, supervisionCode: facts.supervisionCode, department: facts.department.code, rating, followUpDue: followUpDue ? beijingIso(followUpDue) : null }, 'evaluation received');
    return (await store.byId(id))!;
  }

  /** Closes a bad evaluation's follow-up with what the department did; another department's evaluation answers 404. */
  async closeFollowUp(id: string, note: string, caller: Caller): Promise<EvaluationRow> {
    const text = note.trim();
    if (!text) throw new Errors.MoleculerClientError('回访说明不能为空 (note: say what was done)', 400, 'bad-request', { field: 'note' });
    const row = await this.deps.store.closeFollowUp(id, { at: this.deps.clock(), note: this.deps.keys.seal(text, SEALED_EVALUATION.note), by: caller.name }, (r) => {
      if (!r || (caller.departments && !caller.departments.includes(r.department.code))) throw notFound(REASONS.evaluationUnknown, 'evaluation-not-found');
      if (!r.followUp) throw conflict(REASONS.noFollowUp, 'no-follow-up');
      if (r.followUp.closedAt) throw conflict(REASONS.closedAlready, 'follow-up-closed');
    });
    const f = row.followUp!;
    this.deps.logger.info({ evaluationId: id, supervisionCode: row.supervisionCode, by: caller.name, late: f.closedMs! > f.dueMs }, 'evaluation follow-up closed');
    return row;
  }

  async list(f: { department?: string; followUp?: FollowUpFilter; scope?: readonly string[]; cursor: ListCursor | null; limit: number }): Promise<{ rows: EvaluationRow[]; more: boolean }> {
    return this.deps.store.list({ ...f, now: this.deps.clock() });
  }

  /** Per department: evaluations, satisfaction rate, bad ratings and their follow-ups (on the evaluations' dates in Beijing). */
  async stats(f: { from?: string; to?: string; scope?: readonly string[] }): Promise<EvaluationStats[]> {
    return (await this.deps.store.stats({ ...f, now: this.deps.clock() })).map(statsEntry);
  }

  /** The item the lists show: comment and note masked for whoever reads them. */
  item(row: EvaluationRow): EvaluationItem {
    const f = row.followUp;
    const now = this.deps.clock().getTime();
    return {
      id: row.id,
      supervisionCode: row.supervisionCode,
      department: { ...row.department, ...(row.hall ? { hall: row.hall } : {}) },
      item: row.item,
      rating: row.rating,
      ratingLabel: RATING_LABELS[row.rating],
      comment: this.maskedText(row.comment, SEALED_EVALUATION.comment),
      submittedAt: row.submittedAt,
      followUp: f ? {
        dueAt: f.dueAt,
        late: f.closedMs !== null ? f.closedMs > f.dueMs : now > f.dueMs,
        closedAt: f.closedAt, closedBy: f.closedBy,
        note: this.maskedText(f.note, SEALED_EVALUATION.note),
        alertId: f.alertId,
      } : null,
    };
  }

  /** A sealed free text opened and masked (ID numbers, phones): what anyone but its writer reads of it. */
  maskedText(sealed: string | null, context: string): string | null {
    return sealed === null ? null : maskText(this.deps.keys.open(sealed, context));
  }

  /** Raises the alerts of the follow-ups past their due time by the hub's clock; answers how many. */
  async sweep(signal?: AbortSignal): Promise<number> {
    let n = 0;
    for (;;) {
      const raised = await this.deps.store.raiseOverdue(this.deps.clock(), SWEEP_BATCH, REASONS.overdue);
      n += raised.length;
      if (raised.length) {
        this.deps.logger.info({ alerts: raised.map((a) => ({ id: a.id, evaluationId: a.evaluationId, supervisionCode: a.supervisionCode, dueAt: a.dueAt })) }, 'overdue evaluation follow-ups raised alerts');
      }
      if (raised.length < SWEEP_BATCH || signal?.aborted) return n;
    }
  }

  /** Sweeps every `sweepSeconds`, on the node that holds the lease. */
  start(): void {
    this.job.start();
  }

  async stop(): Promise<void> {
    await this.job.stop();
  }
}

/** ISO 8601 +08:00 with milliseconds, as the hub's other times from the store (services/store/sql-time.ts). */
function isoWithMs(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().replace('Z', '+08:00');
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function statsEntry(r: EvaluationStatsRow): EvaluationStats {
  return {
    code: r.department.code, name: r.department.name,
    evaluations: r.evaluations,
    satisfactionRate: r.evaluations ? r.satisfied / r.evaluations : null,
    badCount: r.bad,
    followUps: { onTime: r.onTime, late: r.late, open: r.open },
  };
}
