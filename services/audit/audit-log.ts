import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { SqlDriver } from '../store/sql-driver';

/** What an entry records. */
export interface AuditRecord {
  /** The token's name (never the token). */
  actor: string;
  /** e.g. case.viewed-unmasked, dead-letter.replayed, mapping.reloaded, token.used */
  action: string;
  /** What it was done to: a supervision code, a dead letter id, a route. */
  target: string;
  detail?: Record<string, unknown>;
}

/** An entry as stored and listed: its text exactly as hashed, the previous entry's hash and its own. */
export interface AuditEntry {
  seq: number;
  body: string;
  prev: string;
  hash: string;
}

/** The hash the first entry chains from. */
export const GENESIS = '0'.repeat(64);

// Appends take this advisory lock (held to the commit): entries chain in one order across nodes.
const AUDIT_LOCK = [7342103, 0] as const;

export function entryHash(prev: string, body: string): string {
  return createHash('sha256').update(prev).update('\n').update(body).digest('hex');
}

/**
 * Checks a chain of entries from its start: each entry's seq follows the one before, its `prev` is
 * the hash before it, its hash is the hash of its own text, and its text names its own seq.
 * Answers the first entry that breaks the chain, and why; null when every entry holds.
 */
export function verifyChain(entries: readonly AuditEntry[], from: { seq: number; hash: string } = { seq: 0, hash: GENESIS }): { seq: number; why: string } | null {
  let prev = from.hash;
  let seq = from.seq;
  for (const e of entries) {
    if (e.seq !== seq + 1) return { seq: e.seq, why: `entry ${e.seq} follows entry ${seq}: entries are missing or reordered` };
    if (e.prev !== prev) return { seq: e.seq, why: `entry ${e.seq} names ${e.prev.slice(0, 12)}… as the hash before it, not ${prev.slice(0, 12)}…` };
    if (entryHash(e.prev, e.body) !== e.hash) return { seq: e.seq, why: `entry ${e.seq} was changed: its text no longer has its hash` };
    let bodySeq: unknown;
    try { bodySeq = (JSON.parse(e.body) as { seq?: unknown }).seq; } catch { bodySeq = undefined; }
    if (bodySeq !== e.seq) return { seq: e.seq, why: `entry ${e.seq}'s text names seq ${String(bodySeq)}` };
    prev = e.hash;
    seq = e.seq;
  }
  return null;
}

/**
 * The tamper-evident access log: a hash chain in the store, its head (seq and hash of the latest
 * entry) written to `<dataDir>/audit/head` by every append of this node, so that entries removed
 * from the end are noticed too.
 */
export class AuditLog {
  private readonly headFile: string;

  constructor(private readonly db: SqlDriver, dataDir: string, private readonly now: () => Date = () => new Date()) {
    this.headFile = path.join(dataDir, 'audit', 'head');
  }

  /** Appends one entry; resolves once it is committed and the head is written. */
  async append(record: AuditRecord): Promise<AuditEntry> {
    const entry = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [...AUDIT_LOCK]);
      const last = (await tx.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1')).rows[0];
      const seq = last ? Number(last.seq) + 1 : 1;
      const prev = last?.hash ?? GENESIS;
      const body = JSON.stringify({ seq, at: this.now().toISOString(), actor: record.actor, action: record.action, target: record.target, detail: record.detail ?? {} });
      const hash = entryHash(prev, body);
      await tx.query('INSERT INTO audit_log (seq, body, prev, hash) VALUES ($1, $2, $3, $4)', [seq, body, prev, hash]);
      return { seq, body, prev, hash };
    });
    fs.mkdirSync(path.dirname(this.headFile), { recursive: true });
    fs.writeFileSync(this.headFile, `${JSON.stringify({ seq: entry.seq, hash: entry.hash })}\n`);
    return entry;
  }

  /** Entries after `after`, in order. */
  async list(after: number, limit: number): Promise<{ items: AuditEntry[]; more: boolean }> {
    const r = await this.db.query<{ seq: string; body: string; prev: string; hash: string }>(
      'SELECT seq::text AS seq, body, prev, hash FROM audit_log WHERE seq > $1 ORDER BY audit_log.seq LIMIT $2', [after, limit + 1]);
    const items = r.rows.slice(0, limit).map((x) => ({ seq: Number(x.seq), body: x.body, prev: x.prev, hash: x.hash }));
    return { items, more: r.rows.length > limit };
  }
}
