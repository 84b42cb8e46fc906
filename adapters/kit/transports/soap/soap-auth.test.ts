import { strict as assert } from 'node:assert';
import { authenticate, scopePrecheck, PushAuthOptions, AUTH_REFUSED } from './soap-auth';

const TEXT = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';
const DIGEST = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const OPTS: PushAuthOptions = {
  scheme: 'wsse-username-token',
  senders: { 'veh-hall-1': { password: 'Veh1-demo-2026!', codes: ['130100000401'] }, 'any-hall': { password: 'Any-demo-2026!' } },
  scopeField: 'GLBM',
  scopeLabel: '管理部门',
};
// As node-soap parses the UsernameToken of the samples.
const token = (Username: string, password: string, Type: string | null = TEXT) => ({
  Security: { UsernameToken: { Username, Password: Type ? { attributes: { Type }, $value: password } : password } },
});

describe('soap-auth: who may push, and what', () => {
  it('accepts the configured user with its PasswordText password (with or without the Type attribute)', () => {
    assert.deepEqual(authenticate(OPTS, token('veh-hall-1', 'Veh1-demo-2026!'), {}), { ok: true, sender: 'veh-hall-1' });
    assert.deepEqual(authenticate(OPTS, token('veh-hall-1', 'Veh1-demo-2026!', null), {}), { ok: true, sender: 'veh-hall-1' });
  });

  it('refuses a wrong password and an unknown user alike, a digest password, and no token at all', () => {
    const wrong = authenticate(OPTS, token('veh-hall-1', 'Veh2-demo-2026!'), {});
    const unknown = authenticate(OPTS, token('hub-poller', 'Poll-demo-2026!'), {});
    assert.equal(!wrong.ok && wrong.rule, 'bad-password');
    assert.equal(!unknown.ok && unknown.rule, 'unknown-sender');
    assert.equal(!wrong.ok && !unknown.ok && wrong.reason === unknown.reason, true, 'the sender cannot tell which users exist');
    assert.equal((authenticate(OPTS, token('veh-hall-1', 'x', DIGEST), {}) as any).rule, 'password-type');
    assert.equal((authenticate(OPTS, undefined, {}) as any).rule, 'no-credentials');
    assert.equal((authenticate(OPTS, { Security: {} }, {}) as any).rule, 'no-credentials');
    assert.equal((authenticate(OPTS, token('toString', 'x'), {}) as any).rule, 'unknown-sender');
  });

  it('tells every refused sender the same, whatever the cause; the cause is for the log', () => {
    const basic = { ...OPTS, scheme: 'http-basic' as const };
    const refusals = [
      authenticate(OPTS, token('veh-hall-1', 'Veh2-demo-2026!'), {}),
      authenticate(OPTS, token('veh-hall-1', 'x', DIGEST), {}),
      authenticate(OPTS, undefined, {}),
      authenticate(basic, undefined, {}),
      authenticate(basic, undefined, { authorization: 'Bearer x' }),
      authenticate(basic, undefined, { authorization: `Basic ${Buffer.from('nobody:x').toString('base64')}` }),
    ];
    for (const r of refusals) {
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, AUTH_REFUSED);
      assert.ok(!r.ok && r.detail.length > 0);
    }
    assert.deepEqual(refusals.map((r) => !r.ok && r.rule), ['bad-password', 'password-type', 'no-credentials', 'no-credentials', 'no-credentials', 'unknown-sender']);
  });

  it('reads HTTP Basic when the definition says so', () => {
    const basic = { ...OPTS, scheme: 'http-basic' as const };
    const header = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    assert.deepEqual(authenticate(basic, undefined, header('veh-hall-1', 'Veh1-demo-2026!')), { ok: true, sender: 'veh-hall-1' });
    assert.equal((authenticate(basic, undefined, header('veh-hall-1', 'nope-nope')) as any).rule, 'bad-password');
    assert.equal((authenticate(basic, token('veh-hall-1', 'Veh1-demo-2026!'), {}) as any).rule, 'no-credentials');
  });

  it('keeps a sender to its own codes, and lets one without codes report any', () => {
    const check = scopePrecheck(OPTS, 'veh-hall-1')!;
    assert.equal(check({ GLBM: '130100000401' }, 0), null);
    const refused = check({ GLBM: '130100000402' }, 0);
    assert.equal(refused?.rule, 'scope');
    assert.equal(refused?.field, 'GLBM');
    assert.equal(refused?.value, '130100000402');
    assert.match(refused!.reason, /^管理部门不属于报送单位：veh-hall-1 只能报送 130100000401 的业务/);
    assert.equal(check({}, 0)?.rule, 'scope');
    assert.match(check({ GLBM: ' ' }, 0)!.reason, /^管理部门缺失/);
    assert.equal(scopePrecheck(OPTS, 'any-hall'), undefined);
  });
});
