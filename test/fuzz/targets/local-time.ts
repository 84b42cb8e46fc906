// Fuzz target: the time normaliser, in the notations the profiles name and with the notation
// recognised from the input, in the default zone and in others. The input is the text a department
// sent; when it holds a line break, the text before it is the profile's pattern (`format`) and the
// text after it the time. A refusal is clean, and so is a RangeError for a pattern or zone the
// reader cannot use (a profile naming one fails when it loads); a time it accepts must be in the
// canonical form, normalise to itself, and name the instant the input named.

import { localTimeReader, normaliseLocalTime } from '../../../core/identifiers/local-time';
import { holds } from '../invariant';

const RULES = new Set(['empty', 'format', 'date']);
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?\+08:00$/;
const FORMATS = [undefined, 'iso8601', 'yyyy-MM-dd HH:mm:ss', 'yyyyMMddHHmmss'];
const ZONES = [undefined, '+08:00', 'UTC', 'America/New_York'];
// RFC 3339 as Date.parse reads it too: the instant can be checked against the platform's reading.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/;

function checkAccepted(input: string, value: string, how: unknown): void {
  holds(CANONICAL.test(value), 'an accepted time is not in the canonical form', { input, value, how });
  const again = normaliseLocalTime(value, 'iso8601');
  holds(again.ok && again.value === value, 'an accepted time does not normalise to itself', { input, value, again, how });
  const text = input.trim();
  if (RFC3339.test(text) && Number(text.slice(0, 4)) >= 1900) {
    holds(Date.parse(value) === Date.parse(text), 'an accepted time names another instant than the input', { input, value, how });
  }
}

export function fuzz(data: Buffer): void {
  const text = data.toString('utf8');
  const nl = text.indexOf('\n');
  if (nl !== -1) {
    const format = text.slice(0, nl);
    const input = text.slice(nl + 1);
    let read: ReturnType<typeof localTimeReader>;
    try {
      read = localTimeReader({ format });
    } catch (err) {
      holds(err instanceof RangeError && /^time pattern /.test(err.message), 'a pattern the reader cannot use fails otherwise than with a RangeError naming it', String(err));
      return;
    }
    const r = read(input);
    if (!r.ok) holds(RULES.has(r.rule) && r.message !== '', 'a refusal with an unknown rule or no message', r);
    else checkAccepted(input, r.value, { format });
    return;
  }
  for (const format of FORMATS) {
    for (const zone of ZONES) {
      const r = normaliseLocalTime(text, format, zone);
      if (!r.ok) {
        holds(RULES.has(r.rule) && r.message !== '', 'a refusal with an unknown rule or no message', r);
        continue;
      }
      checkAccepted(zone === undefined || zone === '+08:00' ? text : '', r.value, { format, zone });
    }
  }
}
