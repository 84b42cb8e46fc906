// Department systems stamp times in Beijing wall-clock time, each in its own notation. Beijing
// has kept UTC+08:00 all year since 1991, so its wall clock is the UTC clock eight hours on; the
// simulators compute it here rather than with the hub's calendar code, so that each checks the
// other.

const EIGHT_HOURS_MS = 8 * 3_600_000;

/** `yyyy-MM-ddTHH:mm:ss` of the Beijing wall clock (years 0–9999). */
function wallClock(instant: Date | number): string {
  return new Date(new Date(instant).getTime() + EIGHT_HOURS_MS).toISOString().slice(0, 19);
}

/** `yyyy-MM-dd HH:mm:ss` (vehicle office). */
export function beijingDateTime(instant: Date | number): string {
  return wallClock(instant).replace('T', ' ');
}

/** `yyyyMMddHHmmss` (tax bureau, file names, vehicle LSH). */
export function beijingCompact(instant: Date | number): string {
  return wallClock(instant).replace(/[-T:]/g, '');
}

/** `yyyy-MM-ddTHH:mm:ss+08:00` (market regulation). */
export function beijingIso(instant: Date | number): string {
  return `${wallClock(instant)}+08:00`;
}

/** Parses `yyyy-MM-dd HH:mm:ss` or `yyyyMMddHHmmss` as Beijing time. */
export function parseBeijing(text: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})[ T]?(\d{2}):?(\d{2}):?(\d{2})$/.exec(text);
  if (!m) throw new RangeError(`not a Beijing time: ${JSON.stringify(text)}`);
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
}
