/**
 * SQL that writes a timestamptz column as the hub writes every time it produces (DESIGN.md
 * "Additions to v1"): ISO 8601 in Beijing time with its offset, `2026-12-06T18:35:08.971+08:00`.
 * `us` keeps microseconds, for a time a list cursor carries back; `s` whole seconds (deadlines).
 */
export function isoBeijing(column: string, precision: 's' | 'ms' | 'us' = 'ms'): string {
  const fraction = precision === 's' ? '' : precision === 'ms' ? '.MS' : '.US';
  return `to_char(${column} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS${fraction}"+08:00"')`;
}
