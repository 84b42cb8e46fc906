import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Intake, ProcessOptions } from '../../../services/intake/intake';
import type { Logger } from '../../../services/hub/logger';
import type { HubMetrics } from '../../../services/hub/metrics';
import type { HubConfig } from '../../../services/hub/config';
import type { RawMessage } from '../../../services/store/store';
import type { Store } from '../../../services/store/open-store';
import type { AdapterDefinition } from '../definition';

/** The records of one raw message, and the attributes of its batch or envelope. */
export interface SplitMessage {
  records: unknown[];
  batch?: Record<string, unknown>;
}

/**
 * A stored raw message after a stop: records to process (with the transport's own check of each), a
 * reason to close it without processing, or null when its bytes cannot be read.
 */
export type RecoveryPlan =
  | (SplitMessage & { precheck?: ProcessOptions['precheck'] })
  | { close: Record<string, unknown> }
  | null;

/** An HTTP endpoint a transport serves; the gateway mounts it. */
export interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface TransportContext {
  adapter: AdapterDefinition;
  intake: Intake;
  store: Store;
  logger: Logger;
  metrics: HubMetrics;
  config: HubConfig;
}

/**
 * A transport turns a department's bytes into raw messages and records, and answers the sender.
 * It knows nothing about case statuses: records go to the intake, which maps and applies them.
 */
export abstract class Transport<Options = unknown> {
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
    if (n) this.ctx.logger.info({ adapter: this.adapterId, messages: n }, 'processed raw messages left pending by the last stop');
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
