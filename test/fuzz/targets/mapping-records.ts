// Fuzz target: each department's mapping profile on records it was never shown. The input's first
// byte chooses the department; the rest is the record as JSON (any JSON value: a webhook can send
// one), or, when it is not JSON, lines of text put into the fields of one of the department's
// sample records in turn. A refusal naming a field, a rule and a reason is clean; a throw, an
// event that breaks the schema or holds a value in another spelling than its normaliser's, a
// mapping that answers differently the second time, or a value the store would refuse are failures.

import type { MapResult } from '../../../core/ports/mapping';
import { sealEvent } from '../../../core/ports/sealed-data';
import { DEPARTMENTS, department, sampleRecords } from '../departments';
import { StoreDouble } from '../hub-double';
import { checkMapResult } from '../event-checks';
import { holds, unstorable } from '../invariant';

const profiles = DEPARTMENTS.map((id) => department(id).profile);
const { keys } = new StoreDouble();

/** A sample record whose text fields, in document order, take the lines of `text` in turn. */
function filled(template: unknown, lines: string[]): unknown {
  let i = 0;
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string' || v === null) return i < lines.length ? lines[i++] : v;
    if (Array.isArray(v)) return v.map(fill);
    if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(template);
}

export async function fuzz(data: Buffer): Promise<void> {
  const n = (data[0] ?? 0) % DEPARTMENTS.length;
  const profile = profiles[n];
  const { records, batch } = await sampleRecords(DEPARTMENTS[n]);
  const text = data.subarray(1).toString('utf8');
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    const lines = text.split('\n');
    record = filled(records[lines.length % records.length], lines);
  }
  const context = { rawMessageId: 'fuzz', recordIndex: 0, batch };
  const r: MapResult = await profile.mapRecord(record, context);
  checkMapResult(r);
  const again = await profile.mapRecord(record, context);
  holds(JSON.stringify(again) === JSON.stringify(r), 'the same record mapped twice gives two answers', { first: r, again });
  const stored = r.ok ? sealEvent(keys, r.event) : { field: r.failure.field, rule: r.failure.rule, eventId: r.failure.eventId ?? null };
  const why = unstorable(stored);
  holds(why === null, `the store would refuse what the mapping gives: ${why}`, stored);
}
