import type { EvaluationStats } from './evaluations';

/** The fields a department's statistics gain from its evaluations. */
export type EvaluationFields = Omit<EvaluationStats, 'code' | 'name'>;

/** A department with no evaluation in the range. */
export const NO_EVALUATIONS: Readonly<EvaluationFields> = { evaluations: 0, satisfactionRate: null, badCount: 0, followUps: { onTime: 0, late: 0, open: 0 } };

/**
 * The supervisor's department statistics with the evaluation fields merged into each department
 * (halls are rolled up: a hall's evaluations count for its department). A department with
 * evaluations and no case counted in the range (the ranges read different dates: acceptance and
 * evaluation) is added from `blank`, or left out without it.
 */
export function withEvaluationStats<T extends { code: string; name: string }>(
  departments: readonly T[], evaluations: readonly EvaluationStats[], blank?: (code: string, name: string) => T,
): (T & EvaluationFields)[] {
  const byCode = new Map(evaluations.map((e) => [e.code, e]));
  const fields = (code: string): EvaluationFields => {
    const e = byCode.get(code);
    return e ? { evaluations: e.evaluations, satisfactionRate: e.satisfactionRate, badCount: e.badCount, followUps: { ...e.followUps } } : { ...NO_EVALUATIONS, followUps: { ...NO_EVALUATIONS.followUps } };
  };
  const out = departments.map((d) => ({ ...d, ...fields(d.code) }));
  if (blank) {
    const known = new Set(departments.map((d) => d.code));
    for (const e of evaluations) if (!known.has(e.code)) out.push({ ...blank(e.code, e.name), ...fields(e.code) });
  }
  return out;
}
