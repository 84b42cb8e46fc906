import path from 'node:path';
import { readKeyFile, withNewKey, writeKeyFile } from '../core/kernel/data-keys';
import { operatorAccess } from './operator-access';
import type { RekeyProgress } from '../services/keys/rekey';

type Io = { out: (s: string) => void; err: (s: string) => void };
const USAGE = 'usage: hub rekey [--key-file FILE] [--no-new-key] [--url URL] [--token TOKEN]   (or HUB_DATA_KEY_FILE, HUB_URL, HUB_OPERATOR_TOKEN)';

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/**
 * `hub rekey`: adds a new data key to the key file and makes it current (every node re-reads the
 * file within seconds and seals under it from then on), then has the running hub move every sealed
 * value of the store to it, printing its progress until it is done. --no-new-key: a rekey to the
 * file's current key (after a rekey that stopped, or to seal values stored before sealing).
 */
export async function rekeyCommand(args: string[], io: Io, pollMs = 500): Promise<number> {
  const keyFile = option(args, '--key-file') ?? process.env.HUB_DATA_KEY_FILE
    ?? (process.env.HUB_DATA_DIR ? path.join(process.env.HUB_DATA_DIR, 'keys', 'data-keys.json') : undefined);
  if (!keyFile) { io.err(`no key file: pass --key-file or set HUB_DATA_KEY_FILE (or HUB_DATA_DIR, for the key file the hub made there)\n${USAGE}\n`); return 2; }
  const access = operatorAccess(option(args, '--url'), option(args, '--token'));
  if (typeof access === 'string') { io.err(`${access}\n${USAGE}\n`); return 2; }
  let keyId: string;
  try {
    const file = readKeyFile(keyFile);
    if (args.includes('--no-new-key')) {
      keyId = file.current;
    } else {
      const next = withNewKey(file);
      writeKeyFile(keyFile, next);
      keyId = next.current;
      io.out(`new data key ${keyId} added to ${keyFile} as its current key (older keys stay in the file: values sealed under them still open)\n`);
    }
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return 2;
  }
  const headers = { Authorization: `Bearer ${access.token}`, 'Content-Type': 'application/json' };
  let res: Response;
  try {
    res = await fetch(`${access.url}/api/v1/keys/rekey`, { method: 'POST', headers, body: JSON.stringify({ keyId }) });
  } catch (err) {
    io.err(`cannot reach the hub at ${access.url}: ${(err as Error).message}\n`);
    return 2;
  }
  if (!res.ok) { io.err(`the hub refused the rekey (${res.status}): ${await res.text()}\n`); return 1; }
  let shown = '';
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    const r = await fetch(`${access.url}/api/v1/keys/rekey`, { headers });
    if (!r.ok) { io.err(`the hub answered ${r.status} for the rekey's progress: ${await r.text()}\n`); return 1; }
    const p = (await r.json()) as RekeyProgress;
    const line = `pass ${p.passes}: ${Object.entries(p.tables).map(([t, s]) => `${t} ${s.scanned}/${s.total} (${s.resealed} resealed)`).join(', ')}`;
    if (line !== shown) { io.out(`${line}\n`); shown = line; }
    if (p.state === 'done') { io.out(`rekey done: every sealed value is under data key ${p.keyId}; older keys may be removed from the key file of every node\n`); return 0; }
    if (p.state === 'failed') { io.err(`rekey failed: ${p.error}\n`); return 1; }
  }
}
