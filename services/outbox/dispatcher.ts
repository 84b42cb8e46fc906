import { APPLIED_AT_HEADER, CHANNELS } from '../../core/kernel/constants';
import type { Channels, PublishOptions } from '../../core/ports/channel';
import type { Lease } from '../../core/ports/jobs';
import type { Logger } from '../../core/kernel/logger';
import type { OutboxStore, OutboxEntry } from './outbox-store';
import type { ChannelName } from '../../core/ports/channel';
import { contextFrom, inSpan, outsideTrace, SpanKind, SPAN_ATTRS } from '../../core/kernel/tracing';

/** A message stored with the change that raised it, waiting for the bus: the supervisor's alerts. */
export interface StoredMessage {
  id: string;
  kind: string;
}

/** Stored messages not yet on the bus, and how to mark them published. */
export interface MessageOutbox<M extends StoredMessage> {
  unpublished(limit: number): Promise<M[]>;
  markPublished(ids: readonly string[]): Promise<void>;
  /** The channel a message goes on. */
  channelOf(message: M): ChannelName;
}

export interface DispatcherOptions {
  /** How often to look for entries other nodes committed (this node's commits nudge at once). */
  pollIntervalMs: number;
  /** Entries read and published per round. */
  batchSize: number;
}

/** Entries deleted at once, in batches, when nobody listens. */
const DISCARD_BATCHES = 10;

/** Longest wait between rounds after the bus refused a publish (doubling from the poll interval). */
const MAX_BACKOFF_MS = 30_000;

/**
 * Publishes the outbox on the bus: the oldest entries first, each event's CloudEvents envelope on
 * `case.event.applied`, an entry deleted only after its publish resolved. A crash between the two
 * publishes that event again at the next start (at least once; consumers are idempotent by id).
 *
 * One node of a cluster dispatches at a time, under a lease in the store: two dispatchers would
 * publish neighbouring batches side by side, and one case's events could overtake each other. The
 * holder publishes a batch in the order its events were applied; the others only renew their
 * claim, and take over when the holder stops (it gives the lease up) or dies (the lease runs out).
 */
export class OutboxDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  /** When this node last confirmed it holds the lease. */
  private heldAt = 0;

  constructor(private readonly deps: {
    outbox: OutboxStore;
    channels: Channels;
    lease: Lease;
    /** Seconds the lease lasts unless renewed (it is renewed at a third of that). */
    leaseSeconds: number;
    logger: Logger;
    options: DispatcherOptions;
    /** Published after the events, in the order they were stored. */
    messages?: MessageOutbox<StoredMessage>;
  }) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.nudge();
  }

  /** Publishes soon: now, or right after the round in progress (which may have missed what just committed), or after the backoff. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) { this.again = true; return; }
    // After a refusal the backoff stands: commits must not hammer a bus that is down.
    if (this.timer && this.failures) return;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    // A round is nudged by a commit, inside the committing message's trace: it belongs to none
    // (each event is published in its own message's trace, kept with its outbox row).
    this.running = outsideTrace(() => this.round()).finally(() => {
      this.running = null;
      if (this.stopped) return;
      if (this.again && this.failures === 0) { this.again = false; this.nudge(); return; }
      this.again = false;
      const wait = this.failures ? Math.min(MAX_BACKOFF_MS, this.deps.options.pollIntervalMs * 2 ** this.failures) : this.deps.options.pollIntervalMs;
      this.timer = setTimeout(() => { this.timer = null; this.nudge(); }, wait);
      this.timer.unref();
    });
  }

  /** Stops after the round in progress (its publishes resolved and their entries deleted), and gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    await this.running;
    if (this.heldAt) {
      this.heldAt = 0;
      await this.deps.lease.release().catch((err) => this.deps.logger.warn({ lease: this.deps.lease.name, err: (err as Error).message }, 'outbox lease not released; another node takes over when it runs out'));
    }
  }

  /** Publishes until the outbox is empty, this node no longer holds the lease, or the bus refuses. */
  private async round(): Promise<void> {
    const { outbox, logger, options } = this.deps;
    try {
      while (!this.stopped && (await this.holds())) {
        if (!this.deps.channels.listened(CHANNELS.eventApplied)) {
          // Published to nobody: the entries go without their events being read, many at a time (on
          // the embedded store a delete of 5,000 costs half as much per entry as one of 500).
          const limit = options.batchSize * DISCARD_BATCHES;
          if ((await outbox.discard(limit)) < limit) break;
          continue;
        }
        const entries = await outbox.next(options.batchSize);
        if (!entries.length) break;
        const published = await this.publish(entries);
        await outbox.remove(published);
        if (published.length < entries.length) {
          this.failures++;
          return;
        }
        if (entries.length < options.batchSize) break;
      }
      if (this.deps.messages && !this.stopped && (await this.holds()) && !(await this.publishMessages(this.deps.messages))) {
        this.failures++;
        return;
      }
      this.failures = 0;
    } catch (err) {
      // The store could not be read or written: the entries stay, the next round tries again.
      this.failures++;
      logger.error({ err: (err as Error).message, failures: this.failures }, 'outbox round failed; retrying with backoff');
    }
  }

  /**
   * Publishes a batch and answers the seqs that may be deleted: every entry up to the first the bus
   * refused. The publishes go out together (the bus keeps the order they were sent in); after a
   * refusal the rest are published again next round, so a consumer never gets a case's later event
   * and then not its earlier one.
   */
  private async publish(entries: readonly OutboxEntry[]): Promise<number[]> {
    const { channels, logger } = this.deps;
    const outcomes = await Promise.allSettled(entries.map((e) => {
      if (!e.event) return Promise.resolve();
      // When the event was applied travels with it: how long it has waited, for those who take it (the outbound lag).
      const opts = { id: e.eventId, headers: { [APPLIED_AT_HEADER]: String(e.appliedAt) } };
      return e.traceparent ? this.publishTraced(e.event, opts, e.traceparent) : channels.publish(CHANNELS.eventApplied, e.event, opts);
    }));
    const done: number[] = [];
    for (let i = 0; i < entries.length; i++) {
      const o = outcomes[i];
      const e = entries[i];
      if (o.status === 'rejected') {
        logger.warn({ channel: CHANNELS.eventApplied, eventId: e.eventId, seq: e.seq, err: (o.reason as Error)?.message ?? String(o.reason), waiting: entries.length - i },
          'the bus refused an event; it stays in the outbox and is published again');
        break;
      }
      if (!e.event) logger.error({ eventId: e.eventId, seq: e.seq }, 'outbox entry without its event row; dropped from the outbox');
      done.push(e.seq);
    }
    return done;
  }

  /**
   * Publishes an event in the trace of the message that applied it (its outbox row kept the
   * context): a producer span, whose context the bus carries to the consumers. Tracing off, the
   * span records nothing and the publish is the plain one.
   */
  private publishTraced(event: NonNullable<OutboxEntry['event']>, opts: PublishOptions & { id: string }, traceparent: string): Promise<void> {
    return inSpan(`publish ${CHANNELS.eventApplied}`, {
      kind: SpanKind.PRODUCER,
      parent: contextFrom({ traceparent }) ?? undefined,
      attributes: () => ({
        'messaging.system': 'moleculer-channels', 'messaging.operation.type': 'send', 'messaging.destination.name': CHANNELS.eventApplied,
        'messaging.message.id': opts.id, ...(event.subject ? { [SPAN_ATTRS.supervisionCode]: event.subject } : {}),
      }),
    }, () => this.deps.channels.publish(CHANNELS.eventApplied, event, opts));
  }

  /** Publishes the stored messages until none is left; false when the bus refused one (it and those after it wait). */
  private async publishMessages(box: MessageOutbox<StoredMessage>): Promise<boolean> {
    const { channels, logger, options } = this.deps;
    while (!this.stopped) {
      const batch = await box.unpublished(options.batchSize);
      if (!batch.length) return true;
      const done: string[] = [];
      for (const m of batch) {
        const channel = box.channelOf(m);
        try {
          // Nobody would receive it (an embedded hub with no consumer of the channel): marked published.
          if (channels.listened(channel)) await channels.publish(channel, m, { id: `alert-${m.id}` });
        } catch (err) {
          logger.warn({ channel, id: m.id, err: (err as Error).message }, 'the bus refused a message; it stays stored and is published again');
          await box.markPublished(done);
          return false;
        }
        done.push(m.id);
      }
      await box.markPublished(done);
      if (batch.length < options.batchSize) return true;
    }
    return true;
  }

  /** Whether this node held the dispatch lease when it last asked (within a third of the lease). */
  get holdsLease(): boolean {
    return this.heldAt !== 0 && Date.now() - this.heldAt < (this.deps.leaseSeconds * 1000) / 3;
  }

  /** Whether this node holds the dispatch lease, asking the store once a third of the lease has passed. */
  private async holds(): Promise<boolean> {
    const { lease, leaseSeconds, logger } = this.deps;
    if (this.heldAt && Date.now() - this.heldAt < (leaseSeconds * 1000) / 3) return true;
    const { held, changed } = await lease.hold();
    this.heldAt = held ? Date.now() : 0;
    if (changed) logger.info({ lease: lease.name, owner: lease.owner, held }, held ? 'this node now publishes the outbox' : 'another node publishes the outbox');
    return held;
  }
}
