import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Precheck } from '../../../../core/ports/intake';

export type AuthScheme = 'wsse-username-token' | 'http-basic';

export interface SenderCredentials {
  password: string;
  /** Values of the scope field this sender may report (its own hall code); any value when absent. */
  codes?: string[];
}

export interface PushAuthOptions {
  scheme: AuthScheme;
  senders: Record<string, SenderCredentials>;
  /** Path in a record of the code a sender may only report for itself (`GLBM`). */
  scopeField?: string;
  /** The scope field's name in the department's language, for reasons. */
  scopeLabel?: string;
}

export type AuthResult =
  | { ok: true; sender: string }
  | { ok: false; rule: 'no-credentials' | 'unknown-sender' | 'bad-password' | 'password-type'; user: string | null; reason: string; detail: string };

const PASSWORD_TEXT = '#PasswordText';
/**
 * The one answer to every sender that is not authenticated (no credentials, an unknown user, a
 * wrong password, a body whose credentials cannot be read): it learns nothing about which users
 * exist or what the hub made of its request.
 */
export const AUTH_REFUSED = '认证失败：用户名或密码错误 (authentication failed)';

/**
 * Checks the sender's credentials against the configured ones: a WS-Security UsernameToken with a
 * PasswordText password in the SOAP header, or HTTP Basic. `reason` is what the sender is told
 * (always AUTH_REFUSED); `rule`, `user` and `detail` are for the log.
 */
export function authenticate(opts: PushAuthOptions, soapHeaders: unknown, http: IncomingHttpHeaders): AuthResult {
  let user: string | null;
  let password: string | null;
  if (opts.scheme === 'http-basic') {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(String(http.authorization ?? ''));
    const pair = m ? Buffer.from(m[1], 'base64').toString('utf8') : null;
    const colon = pair ? pair.indexOf(':') : -1;
    user = pair && colon > 0 ? pair.slice(0, colon) : null;
    password = pair && colon > 0 ? pair.slice(colon + 1) : null;
    if (user === null) return refused('no-credentials', null, 'no Authorization: Basic header with a user and a password');
  } else {
    const token = (soapHeaders as { Security?: { UsernameToken?: { Username?: unknown; Password?: unknown } } } | undefined)?.Security?.UsernameToken;
    if (!token) return refused('no-credentials', null, 'the SOAP header carries no wsse:Security/wsse:UsernameToken');
    user = textOf(token.Username);
    password = textOf(token.Password);
    const type = (token.Password as { attributes?: { Type?: unknown } } | undefined)?.attributes?.Type;
    if (type !== undefined && !String(type).endsWith(PASSWORD_TEXT)) {
      return refused('password-type', user, `password type ${String(type).replace(/^.*#/, '')} is not accepted, only PasswordText`);
    }
  }
  const sender = Object.prototype.hasOwnProperty.call(opts.senders, user) ? opts.senders[user] : undefined;
  if (!sender) return refused('unknown-sender', user, 'no such sender');
  if (!sameSecret(password ?? '', sender.password)) return refused('bad-password', user, 'wrong password');
  return { ok: true, sender: user };
}

function refused(rule: (AuthResult & { ok: false })['rule'], user: string | null, detail: string): AuthResult & { ok: false } {
  return { ok: false, rule, user, reason: AUTH_REFUSED, detail };
}

/**
 * The intake precheck that keeps a sender to its own codes (a hall reports only its own GLBM).
 * Undefined when the sender may report any code.
 */
export function scopePrecheck(opts: PushAuthOptions, sender: string): Precheck | undefined {
  const codes = opts.senders[sender]?.codes;
  const field = opts.scopeField;
  if (!field || !codes) return undefined;
  const label = opts.scopeLabel ?? field;
  return (record) => {
    const value = textOf(readPath(record, field)).trim();
    if (codes.includes(value)) return null;
    if (!value) return { field, value, rule: 'scope', reason: `${label}缺失，无法确认报送范围 (${field} is empty; sender ${sender} may report ${codes.join(', ')})` };
    return {
      field, value, rule: 'scope',
      reason: `${label}不属于报送单位：${sender} 只能报送 ${codes.join('、')} 的业务 (${field}=${JSON.stringify(value)} is outside the scope of sender ${sender})`,
    };
  };
}

export function readPath(record: unknown, path: string): unknown {
  let v: unknown = record;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

// node-soap gives an element with attributes (Password Type="…") as { attributes, $value }.
export function textOf(v: unknown): string {
  if (v && typeof v === 'object') return textOf((v as { $value?: unknown }).$value);
  return v === undefined || v === null ? '' : String(v);
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
