// Fuzz target: JSONata expressions in a mapping profile, compiled where the hub compiles a
// profile's (loading or reloading it) and evaluated on each department's sample records. The input
// is the expression; its length chooses the department and where the expression goes: a field's
// `from`, a rule's `when`, or an extra part of the event key. A ConfigError when the profile loads
// is the clean refusal of an expression; once loaded, each record must map or be refused with a
// field, a rule and a reason, never throw.

import fs from 'node:fs';
import YAML from 'yaml';
import jsonata from 'jsonata';
import { MappingProfile, withAttributes } from '../../../adapters/kit/mapping/engine';
import { ConfigError } from '../../../core/kernel/errors';
import { sealEvent } from '../../../core/ports/sealed-data';
import { DEPARTMENTS, department, sampleRecords, sharedTables } from '../departments';
import { StoreDouble } from '../hub-double';
import { checkMapResult } from '../event-checks';
import { holds, unstorable } from '../invariant';

const SLOTS = ['from', 'when', 'eventKey'] as const;
const PLACEHOLDER = 'EXPRESSION-OF-THE-FUZZ-INPUT';

/** Each department's profile as text, once per slot, with a placeholder where the expression goes. */
const templates = DEPARTMENTS.map((id) => {
  const { profile } = department(id);
  const raw = YAML.parse(fs.readFileSync(profile.file, 'utf8'));
  const bySlot = SLOTS.map((slot) => {
    const p = structuredClone(raw);
    if (slot === 'from') p.fields.remark = { from: PLACEHOLDER, optional: true, label: '备注' };
    else if (slot === 'when') p.fields.remark = [{ when: PLACEHOLDER, value: '条件成立', optional: true }, { value: '条件不成立', optional: true }];
    else p.eventKey = [...p.eventKey, PLACEHOLDER];
    return YAML.stringify(p);
  });
  return { file: profile.file, bySlot };
});
const { keys } = new StoreDouble();

/** The expression as a YAML double-quoted scalar: JSON's escapes, and every non-ASCII character as \uXXXX. */
function quoted(expr: string): string {
  return JSON.stringify(expr).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// A profile is a text file its authors write: a NUL or an unpaired surrogate cannot be in one.
const NOT_IN_A_PROFILE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// The hub evaluates a profile's expressions without a bound on time or size (README, "Bugs found"):
// JSONata is a complete language, and ranges of millions of numbers, functions that loop by tail
// calls, or strings built by $eval run for seconds, or for ever, whatever the record. Those are
// left out, so that a hang found here is one the records drive.
const UNBOUNDED = /\.\.|\bfunction\b|λ|\$eval\b|\d{5}|\d[eE][-+]?\d/;
// A dotted path is read by the engine itself, not compiled by JSONata (SIMPLE_PATH in engine.ts).
const DOTTED_PATH = /^(\$batch\.)?@?[A-Za-z_]\w*(\.@?[A-Za-z_]\w*)*$/;

export async function fuzz(data: Buffer): Promise<void> {
  const expr = data.toString('utf8');
  if (NOT_IN_A_PROFILE.test(expr) || UNBOUNDED.test(expr)) return;
  const n = data.length % DEPARTMENTS.length;
  const slot = Math.floor(data.length / DEPARTMENTS.length) % SLOTS.length;
  // Most mutated expressions are not JSONata. Loading a profile costs a hundred times what
  // compiling one expression does, so only one in eight of those is loaded, to see it refused
  // with a ConfigError; the others are known to be refused the same way (compileExpression).
  let compiles = DOTTED_PATH.test(expr);
  try {
    jsonata(withAttributes(expr));
    compiles = true;
  } catch {
    // Not JSONata: loaded one time in eight (below) unless it is a path.
  }
  if (!compiles && data.length % 8 !== 0) return;
  const { file, bySlot } = templates[n];
  let profile: MappingProfile;
  try {
    profile = MappingProfile.fromText(file, bySlot[slot].replace(PLACEHOLDER, () => quoted(expr)), sharedTables());
  } catch (err) {
    if (err instanceof ConfigError) return;
    throw err;
  }
  const { records, batch } = await sampleRecords(DEPARTMENTS[n]);
  for (const [i, record] of records.entries()) {
    const r = await profile.mapRecord(record, { rawMessageId: 'fuzz', recordIndex: i, batch });
    checkMapResult(r);
    const stored = r.ok ? sealEvent(keys, r.event) : { field: r.failure.field, rule: r.failure.rule, eventId: r.failure.eventId ?? null };
    const why = unstorable(stored);
    holds(why === null, `the store would refuse what the mapping gives: ${why}`, { slot: SLOTS[slot], expr, stored });
  }
}
