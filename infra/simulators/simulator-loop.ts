// Runs a simulator's tick every interval until stopped. A failing tick is logged and the loop
// goes on: a simulator beside the demo must never take the process down.

import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';

export class SimulatorLoop {
  private controller?: AbortController;
  private running?: Promise<void>;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: (signal: AbortSignal) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    const controller = new AbortController();
    // Every wait of the loop's work listens on this signal (the tax bureau's late markers, many
    // at once when a test runs it fast); that is no leak.
    setMaxListeners(0, controller.signal);
    this.controller = controller;
    this.running = this.run(controller.signal);
  }

  /** Stops the loop, aborting a request in flight, and resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.running;
    this.running = undefined;
    this.controller = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick(signal);
      } catch (err) {
        if (!signal.aborted) this.logger.error({ err }, 'simulator tick failed; continuing');
      }
      if (!(await sleep(this.intervalMs, signal))) return;
    }
  }
}

/** Waits `ms`; false when aborted first. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch (err) {
    if (signal?.aborted) return false;
    throw err;
  }
}
