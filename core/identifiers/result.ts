/**
 * What every normaliser answers. A refusal carries a stable kebab-case `rule` for code and
 * metrics, a short Chinese `message` a department clerk can read (the caller prefixes the field
 * label, so it never names the field) and an English `detail` for operators.
 */
export type Normalised<T = string> =
  | { ok: true; value: T; warnings?: string[] }
  | { ok: false; rule: string; message: string; detail?: string };

export type Refusal = Extract<Normalised<never>, { ok: false }>;

export function accept<T>(value: T, warnings?: string[]): Normalised<T> {
  return warnings && warnings.length > 0 ? { ok: true, value, warnings } : { ok: true, value };
}

export function refuse(rule: string, message: string, detail?: string): Refusal {
  return detail === undefined ? { ok: false, rule, message } : { ok: false, rule, message, detail };
}
