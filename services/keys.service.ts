import { Errors, ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import type { CallerMeta } from './cases.service';
import { registerKeys } from './store/open-store';
import { rekeyStore, RekeyProgress } from './keys/rekey';

/** How often a node looks at its key file for a key another process added (`hub rekey`). */
const RELOAD_MS = 2000;

/**
 * The data keys: each node re-reads its key file when it changes (the new key seals from then on,
 * and is recorded in the store first), and `POST /keys/rekey` moves every sealed value of the
 * store to the current key while the hub runs, in batches, with its progress at `GET /keys/rekey`.
 */
export function keysService(hub: HubContext): ServiceSchema {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<RekeyProgress> | null = null;
  let last: RekeyProgress | null = null;
  const stop = new AbortController();
  const reload = async () => {
    const keys = hub.store.keys;
    const before = keys.currentId;
    if (!keys.reload()) return;
    await registerKeys(hub.store.driver, keys);
    if (keys.currentId !== before) hub.logger.info({ keyId: keys.currentId, was: before }, 'the data key file changed: personal data is now sealed under its current key');
  };
  return {
    name: 'keys',
    actions: {
      rekey: {
        role: 'operator',
        params: { keyId: { type: 'string', min: 1, max: 64 } },
        async handler(ctx: Context<{ keyId: string }, CallerMeta>) {
          await reload();
          const keys = hub.store.keys;
          if (keys.currentId !== ctx.params.keyId) {
            throw new Errors.MoleculerClientError(`the current key of this hub's key file (${keys.file}) is ${keys.currentId}, not ${ctx.params.keyId}: give the hub the key file the new key was added to`, 409, 'key-not-current', { field: 'keyId' });
          }
          if (running) throw new Errors.MoleculerClientError('a rekey is already running on this node', 409, 'rekey-running');
          await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: 'keys.rekey-started', target: keys.currentId });
          hub.logger.info({ keyId: keys.currentId }, 'rekey started: every sealed value of the store moves to the current data key');
          last = { keyId: keys.currentId, state: 'running', startedAt: new Date().toISOString(), finishedAt: null, error: null, passes: 0, tables: {} };
          const jobs = hub.jobs;
          // With HUB_QUEUE, the SMS and outbound payloads waiting in Redis move too, before the older keys are forgotten.
          const elsewhere = jobs.resealPayloads ? { name: 'redis job payloads', reseal: () => jobs.resealPayloads!() } : undefined;
          running = rekeyStore(hub.store.driver, keys, { signal: stop.signal, elsewhere, onProgress: (p) => { last = p; } }).then(async (p) => {
            last = p;
            running = null;
            if (p.state === 'done') hub.logger.info({ keyId: p.keyId, passes: p.passes, tables: p.tables }, 'rekey done: every sealed value is under the current data key');
            else hub.logger.error({ keyId: p.keyId, error: p.error }, 'rekey failed; run it again');
            await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: `keys.rekey-${p.state}`, target: p.keyId, detail: { passes: p.passes, error: p.error } })
              .catch((err: Error) => hub.logger.error({ err: err.message }, 'the end of a rekey could not be written to the access log'));
            return p;
          });
          return last;
        },
      },
      rekeyStatus: {
        role: 'operator',
        async handler() {
          if (!last) throw new Errors.MoleculerClientError('no rekey has run on this node since it started', 404, 'no-rekey');
          return last;
        },
      },
    },
    started() {
      timer = setInterval(() => {
        reload().catch((err: Error) => hub.logger.error({ err: err.message }, 'the data key file could not be read again'));
      }, RELOAD_MS);
      timer.unref();
    },
    async stopped() {
      if (timer) clearInterval(timer);
      stop.abort();
      await running?.catch(() => undefined);
    },
  };
}
