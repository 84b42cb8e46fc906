import type { IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP endpoint a transport serves; the gateway mounts it. */
export interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** What the hub's services see of a department transport: its endpoints, and its life cycle. */
export interface TransportHandle {
  readonly adapterId: string;
  /** HTTP endpoints the gateway mounts for this transport (none for folder or polling transports). */
  httpRoutes(): HttpRoute[];
  /** Starts background work (watchers, pollers) and processes raw messages a stop left pending. */
  start(): Promise<void>;
  /** Stops background work; requests in flight finish first. */
  stop(): Promise<void>;
}
