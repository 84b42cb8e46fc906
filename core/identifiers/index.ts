// The normalisers by the names mapping profiles use (`normalise: citizenId`), and every
// normaliser module's exports for code that calls them directly.

import { normaliseCitizenId } from './citizen-id';
import { LOCAL_TIME_FORMATS, LocalTimeFormat, normaliseLocalTime } from './local-time';
import { normaliseMobile, normalisePhone } from './mobile';
import { normaliseName } from './person-name';
import { Normalised } from './result';
import { normaliseUscc } from './uscc';

export * from './result';
export * from './mod31';
export * from './half-width';
export { isLeapYear, daysInMonth, isRealDate } from './calendar-date';
export * from './citizen-id';
export * from './uscc';
export * from './mobile';
export * from './mask';
export * from './person-name';
export * from './local-time';
export * from './department';

export type Normaliser = (input: string) => Normalised<unknown>;

export type NormaliserOptions = {
  /** For `localTime`: the department's notation; recognised from the input when absent. */
  format?: LocalTimeFormat;
};

const NORMALISERS = {
  citizenId: () => (input: string) => normaliseCitizenId(input),
  uscc: () => normaliseUscc,
  mobile: () => normaliseMobile,
  phone: () => normalisePhone,
  personName: () => normaliseName,
  localTime: (options?: NormaliserOptions) => {
    const format = options?.format;
    if (format !== undefined && !LOCAL_TIME_FORMATS.includes(format)) {
      throw new RangeError(`normaliser localTime: unknown format ${JSON.stringify(format)}; known: ${LOCAL_TIME_FORMATS.join(', ')}`);
    }
    return (input: string) => normaliseLocalTime(input, format);
  },
} satisfies Record<string, (options?: NormaliserOptions) => Normaliser>;

export type NormaliserName = keyof typeof NORMALISERS;

export const NORMALISER_NAMES = Object.keys(NORMALISERS) as NormaliserName[];

/** A mapping profile names a normaliser that does not exist. */
export class UnknownNormaliserError extends Error {
  readonly code = 'UNKNOWN_NORMALISER';
  constructor(readonly normaliser: string) {
    super(`unknown normaliser ${JSON.stringify(normaliser)}; known: ${NORMALISER_NAMES.join(', ')}`);
    this.name = 'UnknownNormaliserError';
  }
}

export function isNormaliserName(name: string): name is NormaliserName {
  return Object.prototype.hasOwnProperty.call(NORMALISERS, name);
}

/**
 * The normaliser a mapping profile names. Throws {@link UnknownNormaliserError} for an unknown
 * name, and a RangeError for options it cannot use, so a bad profile fails when it is loaded.
 */
export function getNormaliser(name: NormaliserName | (string & {}), options?: NormaliserOptions): Normaliser {
  if (!isNormaliserName(name)) throw new UnknownNormaliserError(name);
  return NORMALISERS[name](options);
}
