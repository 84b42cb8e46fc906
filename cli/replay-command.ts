import { operatorAccess } from './operator-access';

type Out = { out: (s: string) => void; err: (s: string) => void };

/**
 * `hub replay --dead-letters [--adapter X] [--dry-run]`: replays dead letters through the profiles
 * the running hub has in force (through its operator API, so it works on either store and never
 * opens the embedded store beside the hub). With --dry-run it prints what each would now become.
 */
export async function replayCommand(args: string[], io: Out): Promise<number> {
  const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
  if (!args.includes('--dead-letters')) { io.err('usage: hub replay --dead-letters [--adapter X] [--dry-run] [--url http://host:port] [--token T]\n'); return 2; }
  const access = operatorAccess(opt('url'), opt('token'));
  if (typeof access === 'string') { io.err(`${access}\n`); return 2; }
  const { url, token } = access;
  const dryRun = args.includes('--dry-run');
  const adapter = opt('adapter');
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const json: any = await r.json().catch(() => null);
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${json?.detail ?? json?.title ?? ''}`);
    return json;
  };
  // Collect first: a replay that resolves a letter must not shift the pages being walked.
  const letters: { id: string; adapter: string; field: string; reason: string }[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: '200', ...(adapter ? { adapter } : {}), ...(cursor ? { cursor } : {}) });
    const page: any = await call('GET', `/api/v1/dead-letters?${q}`);
    letters.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  const tally: Record<string, number> = {};
  for (const d of letters) {
    const r: any = await call('POST', `/api/v1/dead-letters/${d.id}/replay`, { dryRun });
    tally[r.result] = (tally[r.result] ?? 0) + 1;
    io.out(JSON.stringify(r.result === 'still-failing'
      ? { id: d.id, adapter: d.adapter, result: r.result, field: r.failure.field, reason: r.failure.reason }
      : { id: d.id, adapter: d.adapter, result: r.result, eventId: r.eventId, ...(dryRun ? { event: r.event } : { supervisionCode: r.supervisionCode }) }) + '\n');
  }
  io.err(`${letters.length} dead letters${dryRun ? ' (dry run: nothing changed)' : ''}: ${Object.entries(tally).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}\n`);
  return tally['still-failing'] ? 1 : 0;
}
