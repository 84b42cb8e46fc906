// Fuzz target: the citizen ID normaliser (GB 11643), as mapping profiles call it, with and
// without the 15-digit legacy form. The input is the text a department sent. A refusal with one of
// the normaliser's rules is clean; a number it accepts must be 18 characters with the right check
// character and a real birth date, normalise to itself, and be masked wherever it is written: by
// the mask of the case view and by the log's masking of free text.

import { normaliseCitizenId, citizenIdCheckDigit } from '../../../core/identifiers/citizen-id';
import { isRealDate } from '../../../core/identifiers/calendar-date';
import { maskIdNumber } from '../../../core/identifiers/mask';
import { toHalfWidth } from '../../../core/identifiers/half-width';
import { maskText } from '../../../core/kernel/personal-data';
import { holds } from '../invariant';

// A fixed "today", so that an input fails or passes the same way on every run.
const NOW = new Date('2026-11-24T04:00:00Z');
const RULES = new Set(['empty', 'charset', 'length', 'legacy', 'date', 'check-character']);

export function fuzz(data: Buffer): void {
  const input = data.toString('utf8');
  for (const legacy of [true, false]) {
    const r = normaliseCitizenId(input, NOW, { legacy });
    if (!r.ok) {
      holds(RULES.has(r.rule) && r.message !== '', 'a refusal with an unknown rule or no message', r);
      continue;
    }
    const id = r.value;
    holds(/^\d{17}[\dX]$/.test(id), 'an accepted ID number is not 17 digits and a check character', id);
    holds(citizenIdCheckDigit(id.slice(0, 17)) === id[17], 'an accepted ID number has a wrong check character', id);
    const [y, m, d] = [Number(id.slice(6, 10)), Number(id.slice(10, 12)), Number(id.slice(12, 14))];
    holds(isRealDate(y, m, d) && id.slice(6, 14) >= '19000101' && id.slice(6, 14) <= '20261124', 'an accepted ID number has an impossible birth date', id);
    const again = normaliseCitizenId(id, NOW, { legacy });
    holds(again.ok && again.value === id, 'an accepted ID number does not normalise to itself', { id, again });
    holds(!legacy || input.replace(/\s/g, '').length !== 15 || (r.warnings ?? []).length > 0, 'a 15-digit number was upgraded without a warning', { input, id });

    const masked = maskIdNumber(id);
    holds(masked.length === 18 && masked.slice(0, 4) === id.slice(0, 4) && masked.slice(-4) === id.slice(-4) && /^\*{10}$/.test(masked.slice(4, 14)), 'the mask shows more than the ends of an ID number', masked);
    // The log masks the number in any spelling the normaliser took it in.
    const logged = toHalfWidth(maskText(`申请人证件号码 ${input} 已核验`)).replace(/[^0-9Xx]/g, '');
    holds(!logged.includes(id.slice(6, 14)) && !logged.includes(id.slice(0, 17)), 'the log shows an ID number the normaliser accepted', { input, logged });
  }
}
