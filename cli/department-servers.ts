import { overrideAdapter, HubConfig } from '../core/kernel/config';
import type { DepartmentServers } from '../infra/simulators';

/**
 * Points a hub's configuration at the department servers the simulators started (`hub start
 * --with-simulators`, and tests that run the demo as it runs): answers the demo subscriber's admin
 * URL when it receives a subscription of the configuration.
 */
export function useDepartmentServers(config: HubConfig, started: DepartmentServers): string | null {
  // Their ports were free ones, chosen now: this hub polls its own simulators, never another hub's.
  for (const [id, overrides] of Object.entries(started.adapterOverrides)) overrideAdapter(config, id, overrides);
  // The SMS notifier's section (off in the demo configuration) is turned on against the gateway
  // simulator, so that a demo hub never sends to a real gateway, nor to another hub's simulator.
  if (started.notifierGateway && config.notifier) config.notifier = { ...config.notifier, enabled: true, gateway: { ...config.notifier.gateway, ...started.notifierGateway } };
  // The demo's subscriber system receives every case change, masked, as a subscription of the configuration.
  if (started.demoSubscription && !config.subscriptions.some((s) => s.id === started.demoSubscription!.id)) {
    config.subscriptions = [...config.subscriptions, { ...started.demoSubscription, filter: {}, personalData: false, ratePerSecond: 0 }];
    return started.subscriber ? `${started.subscriber.baseUrl}/_admin/state` : null;
  }
  return null;
}
