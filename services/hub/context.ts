import type { HubConfig } from './config';
import type { Logger } from './logger';
import type { HubMetrics } from './metrics';
import type { Store } from '../store/open-store';
import type { ProfileSet } from '../intake/profile-set';
import type { Intake } from '../intake/intake';
import type { Transport } from '../../adapters/kit/transports/base';
import type { AdapterDefinition } from '../../adapters/kit/definition';

/** What the hub's services receive at start-up: the ports chosen from configuration, never the mode itself. */
export interface HubContext {
  config: HubConfig;
  logger: Logger;
  metrics: HubMetrics;
  store: Store;
  profiles: ProfileSet;
  intake: Intake;
  adapters: Map<string, { definition: AdapterDefinition; transport: Transport }>;
}
