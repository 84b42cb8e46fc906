import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { withNewKey, writeKeyFile } from '../../core/kernel/data-keys';
import { CLUSTER_NODES, ClusterNode } from '../../cli/run-cluster';
import { createTestDatabase, requireNats, requireRedis, deleteStreams, deleteQueueKeys } from './servers';
import { testDataDir, waitFor, getJson, spawnNode } from './hub';

/**
 * Where a behaviour suite's hub runs: in this process on either store, or as the three nodes of
 * `make run-cluster` (cli/run-cluster.ts CLUSTER_NODES) on PostgreSQL, NATS JetStream and BullMQ on
 * Redis, one of them in this process (so that the suite can still look into its store and its log)
 * and the other two as `hub start` processes of their own.
 */
export type Target = 'embedded' | 'postgres' | 'cluster';
/** Every target the departments' and the supervisor's behaviour suites run on. */
export const TARGETS: Target[] = ['embedded', 'postgres', 'cluster'];

/** A node started as a process of its own (support/hub.ts spawnNode). */
interface NodeProcess {
  node: ClusterNode;
  proc: Awaited<ReturnType<typeof spawnNode>>;
}

/** The cluster around the node that runs in this process. */
export interface ClusterBehind {
  /** The variables that make this process's node a node of the cluster (store, bus, queue, keys, services). */
  env: Record<string, string>;
  /** The namespace of the cluster's bus and job queues. */
  namespace: string;
  /** The gateway's URL when the gateway runs in a process of its own (null when it is this process's node). */
  gatewayUrl: string | null;
  /** What the other nodes printed, for a failure's message. */
  output(): string;
  /** Stops the other nodes (SIGTERM, their orderly stop), then drops the database, the streams and the queues' keys. */
  stop(): Promise<void>;
}

async function startNodeProcess(node: ClusterNode, env: Record<string, string>): Promise<NodeProcess> {
  return { node, proc: await spawnNode({ HUB_LOG_LEVEL: 'warn', ...env, HUB_SERVICES: node.services.join(',') }) };
}

/** Stops a node in order (SIGTERM), or at once should its orderly stop hang. */
async function stopNodeProcess(n: NodeProcess): Promise<void> {
  const late = setTimeout(() => void n.proc.stop('SIGKILL'), 20_000);
  await n.proc.stop('SIGTERM');
  clearTimeout(late);
}

/**
 * Starts the nodes of CLUSTER_NODES other than `here` (a node's name: gateway, cases, supervisor)
 * as processes of their own, on a fresh PostgreSQL database, a namespace of their own on the
 * machine's NATS and Redis, and one data key file; `env` (HUB_CONFIG, HUB_DATA_DIR…) goes to every
 * node. The node `here` is the caller's to start in its process, with the returned env.
 */
export async function startClusterBehind(here: string, env: Record<string, string> = {}): Promise<ClusterBehind> {
  const own = CLUSTER_NODES.find((n) => n.name === here);
  if (!own) throw new Error(`no cluster node is named ${here}: ${CLUSTER_NODES.map((n) => n.name).join(', ')}`);
  await requireNats();
  await requireRedis();
  const db = await createTestDatabase();
  const namespace = `bb-${process.pid}-${randomUUID().slice(0, 8)}`;
  // Every node of a hub has the same data keys.
  const keyFile = path.join(testDataDir('cluster-keys', { store: 'none' }), 'data-keys.json');
  writeKeyFile(keyFile, withNewKey(null));
  const shared: Record<string, string> = {
    HUB_STORE: db.url, HUB_TRANSPORTER: 'nats://127.0.0.1:4222', HUB_QUEUE: 'redis://127.0.0.1:6379',
    HUB_NAMESPACE: namespace, HUB_DATA_KEY_FILE: keyFile, ...env,
  };
  const started: NodeProcess[] = [];
  const cleanUp = async () => {
    for (const n of [...started].reverse()) await stopNodeProcess(n);
    await db.drop();
    await deleteStreams(namespace).catch(() => undefined);
    await deleteQueueKeys(namespace).catch(() => undefined);
  };
  try {
    // One after another: the first applies the migrations, the next finds them applied.
    for (const node of CLUSTER_NODES.filter((n) => n !== own)) started.push(await startNodeProcess(node, shared));
  } catch (err) {
    await cleanUp();
    throw err;
  }
  return {
    env: { ...shared, HUB_SERVICES: own.services.join(',') },
    namespace,
    gatewayUrl: started.find((n) => n.proc.url)?.proc.url ?? null,
    output: () => started.map((n) => `--- ${n.node.name}\n${n.proc.output()}`).join('\n'),
    stop: cleanUp,
  };
}

/**
 * Waits until the gateway at url is ready: every service its routes call runs on some node, and the
 * servers answer (a cluster's nodes find each other over NATS within a few seconds of starting).
 */
export async function clusterReady(url: string, behind: ClusterBehind, timeoutMs = 30_000): Promise<void> {
  await waitFor(`the cluster's gateway to be ready\n${behind.output()}`, async () => (await getJson(`${url}/health/ready`)).status === 200, timeoutMs, 200);
}
