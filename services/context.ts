import type { HubConfig } from '../core/kernel/config';
import type { Logger } from '../core/kernel/logger';
import type { HubMetrics } from '../core/kernel/metrics';
import type { Store } from './store/open-store';
import type { Profiles } from '../core/ports/mapping';
import type { Intake } from './intake/intake';
import type { TransportHandle } from '../core/ports/transport';
import type { Channels } from '../core/ports/channel';
import type { CalendarYear } from '../core/calendar/working-calendar';
import type { JobQueue } from '../core/ports/jobs';

/** What the hub's services receive at start-up: the ports chosen from configuration, never the mode itself. */
export interface HubContext {
  config: HubConfig;
  logger: Logger;
  metrics: HubMetrics;
  store: Store;
  profiles: Profiles;
  intake: Intake;
  /** The bus: publishing on its channels. */
  channels: Channels;
  /** Durable work with retries (outbound deliveries): in the store, whatever the mode, for now. */
  jobs: JobQueue;
  /** The hub's clock: the supervision rules compute lights for its now. */
  clock: () => Date;
  /** What the supervision rules read: the working-day calendar's years and the catalogue's limits per item. */
  supervision: {
    years: readonly CalendarYear[];
    items: ReadonlyMap<string, { promisedDays: number; intakeDays: number }>;
  };
  /** The department transports this node runs, by adapter id. */
  adapters: Map<string, { transport: TransportHandle }>;
}
