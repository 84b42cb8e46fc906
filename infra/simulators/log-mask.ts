// The simulators log what they send, and what they send is personal data (DESIGN, failure
// policy: never unmasked in logs). They mask it themselves rather than with the hub's code, so
// that nothing in a simulator depends on the product it stands in front of.

/** Keeps the first and last four characters of an ID number: `1301**********1283`. */
export function maskedIdNumber(id: string): string {
  const ascii = id.replace(/[０-９Ｘｘ]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) - 0xfee0));
  return ascii.length < 9 ? '*'.repeat(ascii.length) : ascii.slice(0, 4) + '*'.repeat(ascii.length - 8) + ascii.slice(-4);
}

/** Keeps the carrier prefix and the last four digits of a phone, typed however: `138****0425`. */
export function maskedPhone(phone: string): string {
  const digits = phone.replace(/^\+86|[\s-]/g, '');
  return digits.length < 8 ? '*'.repeat(digits.length) : digits.slice(0, 3) + '*'.repeat(digits.length - 7) + digits.slice(-4);
}
