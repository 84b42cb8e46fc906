import assert from 'node:assert/strict';
import { tokenCommand } from './token-command';
import { tokenHash } from '../core/kernel/config';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await tokenCommand(args, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

describe('hub token new', () => {
  it('prints a new random token and the sha256 hash the configuration keeps of it', async () => {
    const a = await run(['new', 'operator', '--name', 'night shift']);
    assert.equal(a.code, 0, a.err);
    const token = /^token: +(\S+)$/m.exec(a.out)![1];
    const hash = /^tokenHash: (sha256:[0-9a-f]{64})$/m.exec(a.out)![1];
    assert.ok(token.length >= 43);
    assert.equal(hash, `sha256:${tokenHash(token).toString('hex')}`);
    assert.match(a.out, /- name: night shift\n +tokenHash: sha256:[0-9a-f]{64}\n +roles: \[operator\]/);
    const b = await run(['new', 'supervisor', 'auditor']);
    assert.notEqual(/^token: +(\S+)$/m.exec(b.out)![1], token);
    assert.match(b.out, /roles: \[supervisor, auditor\]/);
  });

  it('refuses an unknown role, no role, or another subcommand', async () => {
    assert.equal((await run(['new', 'root'])).code, 2);
    assert.match((await run(['new', 'root'])).err, /no role "root"/);
    assert.equal((await run(['new'])).code, 2);
    assert.equal((await run(['old', 'operator'])).code, 2);
  });
});
