// Personal data is masked in logs, metrics and non-privileged API answers (DESIGN, failure
// policy). Too short a value to keep both ends without revealing most of it is masked whole.

/** `13833110425` → `138****0425`: keeps the carrier prefix and the last four digits. */
export function maskPhone(n: string): string {
  if (n.length < 8) return '*'.repeat(n.length);
  return n.slice(0, 3) + '*'.repeat(n.length - 7) + n.slice(-4);
}

/** `130105197806241283` → `1301**********1283`: keeps the first four and last four characters. */
export function maskIdNumber(id: string): string {
  if (id.length < 9) return '*'.repeat(id.length);
  return id.slice(0, 4) + '*'.repeat(id.length - 8) + id.slice(-4);
}
