import { Errors } from 'moleculer';
import { dayOfDate } from '../core/calendar/working-calendar';

/** A date parameter as the routes take it (`from`, `to`): YYYY-MM-DD, a day in Beijing. */
export const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Refuses, with 400 naming the field, a `from` or `to` that is no calendar day, or a `from` after
 * `to`: what every route with a date range (statistics, evaluations) answers alike.
 */
export function checkDateRange(from: string | undefined, to: string | undefined): void {
  for (const [field, value] of [['from', from], ['to', to]] as const) {
    if (!value) continue;
    try {
      dayOfDate(value);
    } catch {
      throw new Errors.MoleculerClientError(`${field} is not a date YYYY-MM-DD: ${value}`, 400, 'bad-date', { field, value });
    }
  }
  if (from && to && from > to) throw new Errors.MoleculerClientError(`from ${from} is after to ${to}`, 400, 'bad-range', { field: 'from', value: from });
}
