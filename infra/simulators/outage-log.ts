// Against a hub that does not implement an endpoint yet (404, connection refused) a simulator
// keeps retrying; one warning per outage tells the user, a line per retry would drown the log.

import type { Logger } from 'pino';

export class OutageLog {
  private readonly down = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly messages = {
      down: 'hub endpoint unavailable; retrying with backoff (logged once per outage)',
      still: 'hub endpoint still unavailable',
      up: 'hub endpoint reachable again',
    },
  ) {}

  /** Records a failed attempt; warns only on the first failure of an outage. */
  failed(endpoint: string, reason: string, fields: Record<string, unknown> = {}): void {
    const failures = (this.down.get(endpoint) ?? 0) + 1;
    this.down.set(endpoint, failures);
    if (failures === 1) {
      this.logger.warn({ endpoint, reason, ...fields }, this.messages.down);
    } else {
      this.logger.debug({ endpoint, reason, failures, ...fields }, this.messages.still);
    }
  }

  succeeded(endpoint: string): void {
    const failures = this.down.get(endpoint);
    if (failures === undefined) return;
    this.down.delete(endpoint);
    this.logger.info({ endpoint, failedAttempts: failures }, this.messages.up);
  }

  isDown(endpoint: string): boolean {
    return this.down.has(endpoint);
  }
}
