// `make bench`, cluster: `make run-cluster`'s three nodes beside the embedded hub, market-regulation
// batches of 100 new cases, 8 requests at a time (the measuring is bench/scenarios/cluster.ts's,
// the `cluster` scenario of bench/run.ts). Prints both figures side by side and the goal's verdict
// (the cluster applies ≥ 5,000 events/s on this 2-core machine).
//
// BENCH_CLUSTER_SECONDS (default 20) is how long each hub is loaded; HUB_NODE_OPTIONS and
// HUB_NODE_FLAGS are the hubs' Node options and flags, by default those of `make run`.

import { clusterFigure, embeddedFigure, report, Figure } from '../../bench/scenarios/cluster';
import { nodeSettings } from '../support/hub';
import { createTestDatabase } from '../support/servers';

const SECONDS = Number(process.env.BENCH_CLUSTER_SECONDS ?? 20);

async function main(): Promise<number> {
  const node = nodeSettings();
  const figures: Figure[] = [];
  figures.push(await clusterFigure({ node, seconds: SECONDS, database: createTestDatabase }));
  figures.push(await embeddedFigure({ node, seconds: SECONDS }));
  process.stdout.write(report(figures, node, SECONDS));
  return figures.every((f) => f.refused.size === 0) ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
