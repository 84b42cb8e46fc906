// The shape of `GET /api/v1/me`'s answer, in a file of types alone, so that the console's browser
// code (services/console/web/) takes the same types as the hub that answers, without the hub's
// Node.js code.

export interface Caller {
  name: string;
  roles: string[];
  personalData: boolean;
  departments?: string[];
}

/** A department as the console offers it in its filters: its halls and its catalogue items. */
export interface VisibleDepartment {
  code: string;
  name: string;
  short?: string;
  halls: { code: string; name: string }[];
  items: { code: string; name: string }[];
}

export interface WhoAmI extends Caller {
  /** The departments the token sees (all of the registry's when it is not limited), for the filters. */
  visibleDepartments: VisibleDepartment[];
}
