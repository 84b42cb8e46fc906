// What every canonical event the mapping accepts must be, whatever record it came from: valid by
// the published schema, and every normalised value in its one canonical spelling (the normaliser
// that produced it accepts it again and gives it back unchanged), so that two spellings of one
// case never make two cases and nothing downstream refuses what the mapping let through.

import { isDeepStrictEqual } from 'node:util';
import type { CaseEvent } from '../../contracts/types';
import type { MapResult } from '../../core/ports/mapping';
import { validateCaseEvent } from '../../contracts/validate';
import { normaliseCitizenId } from '../../core/identifiers/citizen-id';
import { normaliseUscc } from '../../core/identifiers/uscc';
import { normaliseMobile, normalisePhone } from '../../core/identifiers/mobile';
import { normaliseName } from '../../core/identifiers/person-name';
import { normaliseLocalTime } from '../../core/identifiers/local-time';
import { parseSupervisionCode } from '../../core/identifiers/supervision-code';
import { holds } from './invariant';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Checks a mapped event; throws InvariantBroken naming the first promise it breaks. */
export function checkEvent(event: CaseEvent): void {
  const invalid = validateCaseEvent(event);
  holds(invalid === null, 'a mapped event breaks the published schema', { invalid, event });
  holds(isDeepStrictEqual(JSON.parse(JSON.stringify(event)), event), 'a mapped event changes through JSON (undefined, NaN or a non-plain value in it)', event);
  const d = event.data;
  const a = d.applicant;
  if (a.idType === 'CITIZEN_ID') {
    const again = normaliseCitizenId(a.idNumber);
    holds(again.ok && again.value === a.idNumber, 'a mapped citizen ID number is not in its canonical form', { idNumber: a.idNumber, again });
  } else if (a.idType === 'USCC') {
    const again = normaliseUscc(a.idNumber);
    holds(again.ok && again.value === a.idNumber, 'a mapped credit code is not in its canonical form', { idNumber: a.idNumber, again });
  } else {
    holds(a.idNumber !== '' && a.idNumber === a.idNumber.trim().toUpperCase(), 'a mapped passport number is not trimmed and upper-cased', a.idNumber);
  }
  if (a.mobile !== null && a.mobile !== undefined) {
    const again = normaliseMobile(a.mobile);
    holds(again.ok && again.value === a.mobile, 'a mapped mobile is not in its canonical form', { mobile: a.mobile, again });
  }
  const phone = (a as { phone?: unknown }).phone;
  if (phone !== undefined) {
    const again = typeof phone === 'string' ? normalisePhone(phone) : null;
    holds(again?.ok && again.value.number === phone && !again.value.mobile, 'a mapped landline is not in its canonical form', { phone, again });
  }
  const name = normaliseName(a.name);
  holds(name.ok && name.value === a.name, 'a mapped applicant name does not normalise to itself', { name: a.name, again: name });
  const time = normaliseLocalTime(d.statusTime, 'iso8601');
  holds(time.ok && time.value === d.statusTime && event.time === d.statusTime, 'a mapped status time is not in its canonical form', { statusTime: d.statusTime, time: event.time, again: time });
  if (d.supervisionCode !== null) {
    const code = parseSupervisionCode(d.supervisionCode);
    holds(code.ok && code.value.code === d.supervisionCode, 'a mapped supervision code does not parse to itself', { code: d.supervisionCode, again: code });
  }
  holds(UUID.test(event.id), 'a mapped event id is not a UUID', event.id);
}

/** Checks either answer of the mapping: an event as checkEvent does, a refusal that names a field, a rule and a reason. */
export function checkMapResult(r: MapResult): void {
  if (r.ok) return checkEvent(r.event);
  const f = r.failure;
  holds(typeof f.field === 'string' && f.field !== '' && typeof f.rule === 'string' && f.rule !== '' && typeof f.reason === 'string' && f.reason !== '',
    'a refusal does not name its field, rule and reason', f);
  holds(f.eventId === undefined || UUID.test(f.eventId), 'a refusal carries an event id that is not a UUID', f);
}
