// Fuzz target: the phone and mobile normalisers. The input is the text a department sent. A
// refusal with one of the normalisers' rules is clean; a number they accept must be digits only, a
// mobile exactly when it has a mobile's shape, normalise to itself, agree between the two
// normalisers, and a mobile must be masked wherever it is written: by the mask of the case view
// and by the log's masking of free text.

import { normaliseMobile, normalisePhone } from '../../../core/identifiers/mobile';
import { maskPhone } from '../../../core/identifiers/mask';
import { toHalfWidth } from '../../../core/identifiers/half-width';
import { maskText } from '../../../core/kernel/personal-data';
import { holds } from '../invariant';

const RULES = new Set(['empty', 'charset', 'length', 'format']);
const MOBILE = /^1[3-9]\d{9}$/;
const LANDLINE = /^0[1-9]\d{8,10}$/;

export function fuzz(data: Buffer): void {
  const input = data.toString('utf8');
  const phone = normalisePhone(input);
  const mobile = normaliseMobile(input);
  if (!phone.ok) {
    holds(RULES.has(phone.rule) && phone.message !== '', 'a refusal with an unknown rule or no message', phone);
    holds(!mobile.ok && mobile.rule === phone.rule, 'the mobile normaliser takes what the phone normaliser refuses', { phone, mobile });
    return;
  }
  const { number } = phone.value;
  holds(phone.value.mobile ? MOBILE.test(number) : LANDLINE.test(number), 'an accepted number does not have the shape it is said to have', phone.value);
  const again = normalisePhone(number);
  holds(again.ok && again.value.number === number && again.value.mobile === phone.value.mobile, 'an accepted number does not normalise to itself', { number, again });
  holds(mobile.ok === phone.value.mobile && (!mobile.ok || mobile.value === number), 'the mobile normaliser disagrees with the phone normaliser', { phone, mobile });
  if (!mobile.ok) {
    holds(mobile.rule === 'not-mobile', 'a landline is refused as a mobile with another rule', mobile);
    return;
  }
  const masked = maskPhone(number);
  holds(masked === `${number.slice(0, 3)}****${number.slice(-4)}`, 'the mask shows more than the ends of a mobile', masked);
  // The log masks the mobile in any spelling the normaliser took it in.
  const logged = toHalfWidth(maskText(`联系电话：${input}。`)).replace(/\D/g, '');
  holds(!logged.includes(number), 'the log shows a mobile the normaliser accepted', { input, logged });
}
