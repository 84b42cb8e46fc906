import { operatorAccess } from './operator-access';

type Out = { out: (s: string) => void; err: (s: string) => void };

const USAGE = 'usage: hub reproject --all [--after CODE] | CODE… [--limit N] [--url http://host:port] [--token T]\n';

interface BatchAnswer {
  reprojected: number;
  changed: string[];
  notFound: string[];
  nextCursor: string | null;
  progress?: { total: number; done: number };
}

/**
 * `hub reproject [--all | CODE…]`: recomputes stored case projections from their events after a
 * supervision rule changed, through the running hub's operator API (the embedded store admits one
 * process, the hub). Every case goes by in supervision-code order, one batch (one transaction) per
 * request, so neither side ever holds more than a batch. It prints the changed cases' codes on
 * stdout and a progress line per batch on stderr, ending with the `--after` that resumes a run
 * stopped there: the hub keeps nothing about a run, each batch stands on its own, and a batch
 * done twice changes nothing the second time.
 */
export async function reprojectCommand(args: string[], io: Out): Promise<number> {
  const valued = new Set(['--after', '--limit', '--url', '--token']);
  const opts = new Map<string, string>();
  const codes: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (valued.has(a)) {
      if (args[i + 1] === undefined) { io.err(`${a} needs a value\n${USAGE}`); return 2; }
      opts.set(a, args[++i]);
    } else if (a === '--all') opts.set(a, '');
    else if (a.startsWith('--')) { io.err(`unknown option ${a}\n${USAGE}`); return 2; }
    else codes.push(a);
  }
  const all = opts.has('--all');
  if (all === codes.length > 0) { io.err(`name the cases to reproject: --all or their codes\n${USAGE}`); return 2; }
  if (!all && opts.has('--after')) { io.err(`--after resumes a run over --all\n${USAGE}`); return 2; }
  const limit = Number(opts.get('--limit') ?? 200);
  if (!Number.isInteger(limit) || limit < 1) { io.err(`--limit must be a positive whole number, not ${opts.get('--limit')}\n`); return 2; }

  const access = operatorAccess(opts.get('--url'), opts.get('--token'));
  if (typeof access === 'string') { io.err(`${access}\n`); return 2; }
  const { url, token } = access;

  // Ctrl-C ends the request in flight: a batch the hub already received still commits whole, and
  // the printed cursor may then repeat it, which changes nothing.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const call = async (body: unknown): Promise<BatchAnswer> => {
    const r = await fetch(`${url}/api/v1/cases/reproject`, {
      method: 'POST', signal: abort.signal,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const json: any = await r.json().catch(() => null);
    if (!r.ok) throw new Error(`POST /api/v1/cases/reproject: ${r.status} ${json?.detail ?? json?.title ?? ''}`);
    return json as BatchAnswer;
  };

  const started = Date.now();
  let reprojected = 0;
  let changed = 0;
  const notFound: string[] = [];
  let after: string | null = opts.get('--after') ?? null;
  let progress = { total: codes.length, done: 0 };
  const rate = () => Math.round(reprojected / Math.max((Date.now() - started) / 1000, 0.001));
  const percent = () => (progress.total ? ` (${((100 * progress.done) / progress.total).toFixed(1)}%)` : '');
  try {
    if (all) {
      for (let first = true; ; first = false) {
        const b = await call({ all: true, limit, count: first, ...(after ? { after } : {}) });
        if (b.progress) progress = b.progress;
        else progress.done += b.reprojected;
        reprojected += b.reprojected;
        changed += b.changed.length;
        for (const code of b.changed) io.out(code + '\n');
        if (!b.nextCursor) break;
        after = b.nextCursor;
        io.err(`reprojected ${progress.done}/${progress.total} cases${percent()}, ${changed} changed, ${rate()} cases/s; resume with --after ${after}\n`);
      }
    } else {
      for (let i = 0; i < codes.length; i += limit) {
        const b = await call({ codes: codes.slice(i, i + limit) });
        progress.done = Math.min(i + limit, codes.length);
        reprojected += b.reprojected;
        changed += b.changed.length;
        notFound.push(...b.notFound);
        for (const code of b.changed) io.out(code + '\n');
        io.err(`reprojected ${progress.done}/${progress.total} named cases${percent()}, ${changed} changed, ${rate()} cases/s\n`);
      }
    }
  } catch (err) {
    const interrupted = abort.signal.aborted;
    io.err(`${interrupted ? 'interrupted' : `stopped: ${(err as Error).message}`}; ${reprojected} cases reprojected, ${changed} changed\n`);
    if (all) io.err(after ? `resume with: hub reproject --all --after ${after}\n` : 'nothing was done: run it again\n');
    return interrupted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  for (const code of notFound) io.err(`no case with supervision code ${code}\n`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  io.err(`reprojected ${progress.done}/${progress.total} ${all ? 'cases' : 'named cases'}, ${changed} changed, ${rate()} cases/s, in ${seconds} s\n`);
  return notFound.length ? 1 : 0;
}
