// The normalisers by the names mapping profiles use (`normalise: citizenId`), and every
// normaliser module's exports for code that calls them directly.

import { normaliseCitizenId } from './citizen-id';
import { LocalTimeFormat, localTimeReader } from './local-time';
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
  /** For `localTime`: the department's notation (`iso8601` or a pattern); recognised from the input when absent. */
  format?: LocalTimeFormat | (string & {});
  /** For `localTime`: the zone of a time written without an offset (IANA name or `±HH:MM`); Asia/Shanghai when absent. */
  zone?: string;
  /** For `citizenId`: whether the 15-digit legacy form is taken (and upgraded); true when absent. */
  legacy?: boolean;
};

type Factory = { options: readonly (keyof NormaliserOptions)[]; make: (options: NormaliserOptions) => Normaliser };

const NORMALISERS = {
  citizenId: { options: ['legacy'], make: (o) => (input: string) => normaliseCitizenId(input, new Date(), { legacy: o.legacy }) },
  uscc: { options: [], make: () => normaliseUscc },
  mobile: { options: [], make: () => normaliseMobile },
  phone: { options: [], make: () => normalisePhone },
  personName: { options: [], make: () => normaliseName },
  localTime: {
    options: ['format', 'zone'],
    make: (o) => {
      try {
        return localTimeReader({ format: o.format, zone: o.zone });
      } catch (err) {
        throw new RangeError(`normaliser localTime: ${(err as Error).message}`);
      }
    },
  },
} satisfies Record<string, Factory>;

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
 * name, and a RangeError for options it does not take or cannot use, so a bad profile fails when
 * it is loaded.
 */
export function getNormaliser(name: NormaliserName | (string & {}), options?: NormaliserOptions): Normaliser {
  if (!isNormaliserName(name)) throw new UnknownNormaliserError(name);
  const factory: Factory = NORMALISERS[name];
  const given = Object.entries(options ?? {}).filter(([, v]) => v !== undefined).map(([k]) => k);
  const foreign = given.filter((k) => !(factory.options as readonly string[]).includes(k));
  // An option the normaliser ignores would look like a check that is not made.
  if (foreign.length) {
    throw new RangeError(`normaliser ${name} takes no option ${foreign.join(', ')}${factory.options.length ? ` (it takes ${factory.options.join(', ')})` : ''}`);
  }
  return factory.make(options ?? {});
}
