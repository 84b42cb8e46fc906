import type { SqlDriver } from '../store/sql-driver';
import { jsonParam } from '../store/sql-driver';
import { isoBeijing } from '../store/sql-time';
import type { DataKeys } from '../../core/kernel/data-keys';
import { resealed } from '../../core/kernel/data-keys';
import { maskText } from '../../core/kernel/personal-data';
import type { CanonicalStatus, SubscriptionFilter } from '../../contracts/types';

/** The context a subscription's secret is sealed for (core/kernel/data-keys.ts): it opens as nothing else. */
export const SUBSCRIPTION_SECRET_CONTEXT = 'subscriptions.secret';

/** Longest error kept for a subscription's status (a subscriber's answer may be long). */
const ERROR_CHARS = 300;

/** A subscription as delivery needs it, whatever its origin: the secret in clear, in memory only. */
export interface SubscriptionRecord {
  id: string;
  url: string;
  keyId: string;
  secret: string;
  filter: SubscriptionFilter;
  personalData: boolean;
  ratePerSecond: number;
  origin: 'config' | 'api';
  createdAt: string | null;
}

/** What the case store holds of a case that an alert names: what a light change or violation is filtered and described by. */
export interface CaseFacts {
  item: { code: string; name: string };
  status: CanonicalStatus;
}

/**
 * The subscriptions created through the API (migration 025), their secrets sealed under the data
 * keys, and every subscription's last success and last error.
 */
export class SubscriptionStore {
  constructor(private readonly db: SqlDriver, private readonly keys: DataKeys) {}

  async list(): Promise<SubscriptionRecord[]> {
    const r = await this.db.query<{ id: string; url: string; key_id: string; secret: string; filter: unknown; personal_data: boolean; rate_per_second: number; created_at: string }>(
      `SELECT id, url, key_id, secret, filter, personal_data, rate_per_second, ${isoBeijing('created_at')} AS created_at FROM subscriptions ORDER BY id`);
    return r.rows.map((x) => ({
      id: x.id, url: x.url, keyId: x.key_id, secret: this.keys.open(x.secret, SUBSCRIPTION_SECRET_CONTEXT),
      filter: (typeof x.filter === 'string' ? JSON.parse(x.filter) : x.filter) as SubscriptionFilter,
      personalData: x.personal_data, ratePerSecond: Number(x.rate_per_second), origin: 'api', createdAt: x.created_at,
    }));
  }

  /** Stores a new subscription; false when one with its id is stored already. */
  async create(s: Omit<SubscriptionRecord, 'origin' | 'createdAt'>, createdBy: string | null): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO subscriptions (id, url, key_id, secret, filter, personal_data, rate_per_second, created_by)
       VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [s.id, s.url, s.keyId, this.keys.seal(s.secret, SUBSCRIPTION_SECRET_CONTEXT), jsonParam(JSON.stringify(s.filter)), s.personalData, s.ratePerSecond, createdBy]);
    return r.rows.length === 1;
  }

  /** Removes a stored subscription and its outcomes; false when none had the id. */
  async remove(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM subscriptions WHERE id = $1 RETURNING id', [id]);
    await this.db.query('DELETE FROM subscription_outcomes WHERE id = $1', [id]);
    return r.rows.length === 1;
  }

  async succeeded(id: string): Promise<void> {
    await this.db.query(
      `INSERT INTO subscription_outcomes (id, last_success_at) VALUES ($1, now())
       ON CONFLICT (id) DO UPDATE SET last_success_at = now()`, [id]);
  }

  /** Records a failed attempt; its text is masked (a subscriber may echo what it was sent). */
  async failed(id: string, error: string): Promise<void> {
    const masked = maskText(error);
    await this.db.query(
      `INSERT INTO subscription_outcomes (id, last_error, last_error_at) VALUES ($1, $2, now())
       ON CONFLICT (id) DO UPDATE SET last_error = $2, last_error_at = now()`,
      [id, masked.length > ERROR_CHARS ? `${masked.slice(0, ERROR_CHARS)}…` : masked]);
  }

  async outcomes(id: string): Promise<{ lastSuccessAt: string | null; lastError: { at: string; reason: string } | null }> {
    const r = await this.db.query<{ s: string | null; e: string | null; ea: string | null }>(
      `SELECT ${isoBeijing('last_success_at')} AS s, last_error AS e, ${isoBeijing('last_error_at')} AS ea FROM subscription_outcomes WHERE id = $1`, [id]);
    const x = r.rows[0];
    return { lastSuccessAt: x?.s ?? null, lastError: x?.e && x.ea ? { at: x.ea, reason: x.e } : null };
  }

  /** The item and status of each of these cases, by supervision code (those the store holds). */
  async caseFacts(codes: readonly string[]): Promise<Map<string, CaseFacts>> {
    const out = new Map<string, CaseFacts>();
    if (!codes.length) return out;
    const r = await this.db.query<{ supervision_code: string; item_code: string; item_name: string; status: CanonicalStatus }>(
      'SELECT supervision_code, item_code, item_name, status FROM cases WHERE supervision_code = ANY($1::text[])', [[...new Set(codes)]]);
    for (const x of r.rows) out.set(x.supervision_code, { item: { code: x.item_code, name: x.item_name }, status: x.status });
    return out;
  }
}

/**
 * The subscriptions' sealed secrets as `hub rekey` moves them to the current key (services/keys/rekey.ts,
 * one of its tables), read in id order, written back only where unchanged since read.
 */
export const SUBSCRIPTIONS_SEALED = {
  name: 'subscriptions',
  async read(db: SqlDriver, after: string, limit: number): Promise<{ key: string; values: unknown }[]> {
    const r = await db.query<{ id: string; secret: string }>('SELECT id, secret FROM subscriptions WHERE id > $1 ORDER BY id LIMIT $2', [after, limit]);
    return r.rows.map((x) => ({ key: x.id, values: x.secret }));
  },
  reseal(keys: DataKeys, sealed: unknown): unknown | null {
    return resealed(keys, sealed as string, SUBSCRIPTION_SECRET_CONTEXT);
  },
  async write(db: SqlDriver, rows: { key: string; old: unknown; values: unknown }[]): Promise<number> {
    const r = await db.query<{ n: number }>(
      `WITH u AS (
         UPDATE subscriptions SET secret = x.v FROM json_to_recordset($1::json) AS x(k text, v text, o text)
         WHERE subscriptions.id = x.k AND subscriptions.secret = x.o RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [jsonParam(JSON.stringify(rows.map((w) => ({ k: w.key, v: w.values, o: w.old }))))]);
    return Number(r.rows[0].n);
  },
};
