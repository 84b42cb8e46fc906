import fs from 'node:fs';
import { verifyChain, AuditEntry, GENESIS } from '../services/audit/audit-log';

type Io = { out: (s: string) => void; err: (s: string) => void };
const USAGE = 'usage: hub audit verify [--url URL] [--token TOKEN] [--head FILE]   (or HUB_URL, HUB_AUDITOR_TOKEN; --head: a node\'s <HUB_DATA_DIR>/audit/head)';

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/**
 * `hub audit verify`: reads the whole access log through the running hub's auditor API and checks
 * its hash chain from the first entry; names the first entry that does not hold. With --head, also
 * checks that the chain still reaches the head a node wrote (entries cut from the end).
 */
export async function auditCommand(args: string[], io: Io): Promise<number> {
  if (args[0] !== 'verify') { io.err(`${USAGE}\n`); return 2; }
  const url = (option(args, '--url') ?? process.env.HUB_URL ?? `http://${process.env.HUB_HTTP_HOST || '127.0.0.1'}:${process.env.HUB_HTTP_PORT || 8080}`).replace(/\/+$/, '');
  const token = option(args, '--token') ?? process.env.HUB_AUDITOR_TOKEN;
  if (!token) { io.err(`no auditor token: pass --token or set HUB_AUDITOR_TOKEN\n${USAGE}\n`); return 2; }
  const headFile = option(args, '--head');
  let last = { seq: 0, hash: GENESIS };
  let count = 0;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`${url}/api/v1/audit?after=${last.seq}&limit=1000`, { headers: { Authorization: `Bearer ${token}` } });
    } catch (err) {
      io.err(`cannot reach the hub at ${url}: ${(err as Error).message}\n`);
      return 2;
    }
    if (!res.ok) { io.err(`the hub answered ${res.status} for the audit log: ${await res.text()}\n`); return 2; }
    const page = (await res.json()) as { items: AuditEntry[]; nextCursor: string | null };
    const broken = verifyChain(page.items, last);
    if (broken) { io.out(`audit log broken at entry ${broken.seq}: ${broken.why}\n`); return 1; }
    if (page.items.length) {
      const end = page.items[page.items.length - 1];
      last = { seq: end.seq, hash: end.hash };
      count += page.items.length;
    }
    if (!page.nextCursor) break;
  }
  if (headFile) {
    const head = JSON.parse(fs.readFileSync(headFile, 'utf8')) as { seq: number; hash: string };
    if (head.seq > last.seq) { io.out(`audit log broken: the head ${headFile} names entry ${head.seq}, the log ends at ${last.seq}\n`); return 1; }
    // The head's entry must be the one in the chain (checked through the API's entry itself).
    const r = await fetch(`${url}/api/v1/audit?after=${head.seq - 1}&limit=1`, { headers: { Authorization: `Bearer ${token}` } });
    const at = ((await r.json()) as { items: AuditEntry[] }).items[0];
    if (!at || at.hash !== head.hash) { io.out(`audit log broken at entry ${head.seq}: its hash is not the one the head ${headFile} recorded\n`); return 1; }
  }
  io.out(`audit log verified: ${count} entries, chain head ${last.seq} ${last.hash}\n`);
  return 0;
}
