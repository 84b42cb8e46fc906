import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../core/kernel/logger';
import type { HubMetrics } from '../../../core/kernel/metrics';
import type { HubConfig } from '../../../core/kernel/config';
import type { RawMessage } from '../../../core/ports/inbox';
import type { Intake, RecoveryPlan, SplitMessage } from '../../../core/ports/intake';
import type { Leases } from '../../../core/ports/jobs';
import type { PollCursors } from '../../../core/ports/poll-cursors';
import type { FileLedgers } from '../../../core/ports/file-ledger';
import type { HttpRoute, TransportHandle } from '../../../core/ports/transport';

export type { HttpRoute, RecoveryPlan, SplitMessage };

/** A department's adapter as loaded from its folder (adapter.yaml; see ../definition.ts). */
export interface AdapterDefinition {
  id: string;
  name: string;
  dir: string;
  transport: { type: string; options: Record<string, unknown> };
  /** Path of the mapping profile. */
  mapping: string;
  samples: string;
  /**
   * quietMinutes: sending nothing for longer, during office hours, is alerted on (hub_adapter_quiet_seconds);
   * endToEndObjectiveSeconds: the p99 from receipt to visible in the case store it is held to.
   */
  monitoring: { quietMinutes: number; endToEndObjectiveSeconds: number };
}

/**
 * What a transport is handed: its adapter's definition and the ports it may use. Never SQL or a
 * service module: a transport's state in the store (leases, cursors, file progress) is reached
 * through its port, and its records go to the intake.
 */
export interface TransportContext {
  adapter: AdapterDefinition;
  intake: Intake;
  leases: Leases;
  cursors: PollCursors;
  files: FileLedgers;
  logger: Logger;
  metrics: HubMetrics;
  config: HubConfig;
}

/**
 * A transport turns a department's bytes into raw messages and records, and answers the sender.
 * It knows nothing about case statuses: records go to the intake, which maps and applies them.
 */
export abstract class Transport<Options = unknown> implements TransportHandle {
  /** Requests being answered; a stop waits for them. */
  private inFlight = 0;

  constructor(protected readonly ctx: TransportContext, protected readonly options: Options) {}

  /** Runs the handling of one request, counted so that stop() lets it finish. */
  protected async inFlightRequest(fn: () => Promise<void>): Promise<void> {
    this.inFlight++;
    try {
      await fn();
    } finally {
      this.inFlight--;
    }
  }

  /** Resolves once no request is being answered. */
  protected async drained(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  }

  get adapterId(): string {
    return this.ctx.adapter.id;
  }

  /** HTTP endpoints the gateway mounts for this transport (none for folder or polling transports). */
  httpRoutes(): HttpRoute[] {
    return [];
  }

  /**
   * Splits a stored raw message into its records again (after a restart, or to replay it).
   * Null when the bytes cannot be read as this transport's format.
   */
  abstract split(raw: RawMessage): SplitMessage | null | Promise<SplitMessage | null>;

  /**
   * What to do with a raw message a stop left stored but unprocessed: by default, split it and
   * process its records. A transport may close it instead (a polled page read again from its cursor).
   */
  protected async recoveryPlan(raw: RawMessage): Promise<RecoveryPlan> {
    return this.split(raw);
  }

  /** Starts background work (watchers, pollers) and processes raw messages a stop left pending. */
  async start(): Promise<void> {
    const n = await this.ctx.intake.recover(this.adapterId, (raw) => this.recoveryPlan(raw));
    if (n) this.ctx.logger.info({ messages: n }, 'processed raw messages left pending by the last stop');
  }

  /** Stops background work; requests in flight finish first. */
  async stop(): Promise<void> {
    await this.drained();
  }
}

export type TransportClass = (new (ctx: TransportContext, options: any) => Transport) & {
  /** JSON Schema of the transport's options in adapter.yaml. */
  readonly optionsSchema: object;
};
