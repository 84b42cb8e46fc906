import { randomBytes } from 'node:crypto';
import { ROLES } from '../core/kernel/constants';
import { tokenHash } from '../core/kernel/config';

const USAGE = 'usage: hub token new ROLE… [--name NAME]   (roles: ' + Object.values(ROLES).join(', ') + ')';

/**
 * `hub token new ROLE… [--name NAME]`: a new random token (256 bits, base64url) and its hash, with
 * the configuration entry that grants it. The token is shown once; the configuration keeps the hash.
 */
export async function tokenCommand(args: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  if (args[0] !== 'new') { io.err(`${USAGE}\n`); return 2; }
  const rest = args.slice(1);
  const at = rest.indexOf('--name');
  const name = at >= 0 ? rest[at + 1] : undefined;
  const roles = rest.filter((_, i) => at < 0 || (i !== at && i !== at + 1));
  const known = Object.values(ROLES) as string[];
  const unknown = roles.filter((r) => !known.includes(r));
  if (!roles.length || unknown.length || (at >= 0 && !name)) {
    io.err(`${unknown.length ? `no role ${unknown.map((r) => JSON.stringify(r)).join(', ')}; ` : ''}${USAGE}\n`);
    return 2;
  }
  const token = randomBytes(32).toString('base64url');
  const hash = `sha256:${tokenHash(token).toString('hex')}`;
  io.out(`token:     ${token}\ntokenHash: ${hash}\n\nin the configuration (the token itself is not kept; give it to its holder now):\n  - name: ${name ?? `${roles.join('+')} token`}\n    tokenHash: ${hash}\n    roles: [${roles.join(', ')}]\n`);
  return 0;
}
