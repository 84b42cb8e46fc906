/* Generated from contracts/v1/*.schema.json by `make types`; do not edit. */

/**
 * One year's State Council holiday notice (contracts/calendar/<year>.yaml): the public holidays and their adjusted working days (调休上班). Working days are Monday to Friday, minus the holidays, plus the adjusted working days.
 */
export interface CalendarYearFile {
  /**
   * The year of the notice; the file is named <year>.yaml.
   */
  year: number;
  /**
   * The notice the data comes from: its title and date.
   */
  source: string;
  /**
   * Every public holiday of the year, with its adjusted working days.
   *
   * @minItems 1
   */
  holidays: [CalendarHoliday, ...CalendarHoliday[]];
}

export interface CalendarHoliday {
  /**
   * The holiday's name, as in the notice (元旦, 春节, …).
   */
  name: string;
  /**
   * The first day off, YYYY-MM-DD.
   */
  from: string;
  /**
   * The last day off, YYYY-MM-DD (the same as from for a single day).
   */
  to: string;
  /**
   * The adjusted working days (调休上班) of this holiday: Saturdays or Sundays that are working days. May be empty or absent.
   */
  workdays?: string[];
}

/**
 * The canonical case statuses every department's local codes are mapped to.
 */
export type CanonicalStatus =
  | "SUBMITTED"
  | "ACCEPTED"
  | "REJECTED"
  | "UNDER_REVIEW"
  | "SUPPLEMENT_REQUESTED"
  | "SUPPLEMENTED"
  | "SUSPENDED"
  | "RESUMED"
  | "APPROVED"
  | "DENIED"
  | "COMPLETED"
  | "DELIVERED"
  | "WITHDRAWN";

export type BeijingTime = string;

/**
 * A canonical case event: a CloudEvents 1.0 JSON object whose data is one status change of one case.
 */
export interface CaseEvent {
  specversion: "1.0";
  /**
   * Deterministic: the same source message always gives the same id.
   */
  id: string;
  source: string;
  type: "gov.case.status.v1";
  /**
   * The supervision code; set by the case store when the mapping could not know it.
   */
  subject?: string;
  time: BeijingTime;
  datacontenttype: "application/json";
  data: CaseStatusData;
}

export interface CaseStatusData {
  department: {
    code: string;
    name: string;
    hall?: Organ;
  };
  item: {
    code: string;
    name: string;
  };
  localCaseId: string;
  /**
   * Adapter id of the source system.
   */
  system: string;
  status: CanonicalStatus;
  statusTime: BeijingTime;
  sourceStatus: {
    code: string;
    label: string | null;
  };
  applicant: Applicant;
  officer: string | null;
  remark: string | null;
  /**
   * The code the source message carried, if any.
   */
  supervisionCode: string | null;
  provenance: {
    adapter: string;
    rawMessageId: string;
    /**
     * Index of the record inside the raw message.
     */
    record?: number;
    /**
     * Content hash of the mapping profile that produced the event.
     */
    profileVersion: string;
  };
}

export interface Organ {
  code: string;
  name: string;
}

export interface Applicant {
  kind: "PERSON" | "ORGANISATION";
  name: string;
  idType: "CITIZEN_ID" | "USCC" | "PASSPORT";
  idNumber: string;
  /**
   * 11-digit mobile number, or null when the source gave none or a landline.
   */
  mobile: string | null;
  /**
   * The number as given when it is not a mobile (landline).
   */
  phone?: string | null;
}

/**
 * A case as the supervisor sees it (GET /api/v1/cases/{code}).
 */
export interface CaseView {
  supervisionCode: string;
  department: {
    code: string;
    name: string;
    hall?: {
      code: string;
      name: string;
    };
  };
  item: {
    code: string;
    name: string;
  };
  applicant: {
    kind: "PERSON" | "ORGANISATION";
    name: string;
    idType: "CITIZEN_ID" | "USCC" | "PASSPORT";
    /**
     * Masked unless the caller may see personal data.
     */
    idNumber: string;
    /**
     * Masked unless the caller may see personal data.
     */
    mobile: string | null;
  };
  status: CanonicalStatus;
  light: "GREEN" | "YELLOW" | "RED" | null;
  deadline: string | null;
  paused: boolean;
  violations: {
    code: string;
    eventId: string;
    reason: string;
  }[];
  references: {
    system: string;
    localId: string;
  }[];
  timeline: {
    eventId: string;
    status: CanonicalStatus;
    time: string;
    system: string;
    sourceCode: string;
    sourceLabel: string | null;
    remark: string | null;
    provenance?: {
      adapter?: string;
      rawMessageId?: string;
      profileVersion?: string;
    };
  }[];
}

export type OutboundType =
  "cn.gov.hub.case.event.applied" | "cn.gov.hub.case.light.changed" | "cn.gov.hub.case.violation.raised";

/**
 * A delivery's body (content-type application/cloudevents+json): CloudEvents 1.0, structured mode. id: the applied event's id, or the alert's for a light change or violation; subject: the case's supervision code.
 */
export interface OutboundEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: OutboundType;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: OutboundData;
}

/**
 * The case change. Every type carries the case's code, department, item and status; an applied event carries the canonical event's data besides (applicant masked unless the subscription has personal data), a light change its lights, a violation its code and reason.
 */
export interface OutboundData {
  supervisionCode: string;
  department: {
    code: string;
    name: string;
  };
  item: {
    code: string;
    name: string;
  };
  status: CanonicalStatus;
  light?: {
    from?: "GREEN" | "YELLOW" | "RED" | null;
    to?: "GREEN" | "YELLOW" | "RED";
  };
  violation?: {
    code: string;
    reason: string;
    eventId?: string;
  };
  level?: "YELLOW" | "RED";
  at?: string;
  [k: string]: unknown;
}

/**
 * Classes of canonical statuses that the supervision rules and the statistics read: the one list of each, for code and SQL alike.
 */
export interface StatusClasses {
  /**
   * A case with one of these is finished: activity after it is a reopening (REOPENED), and it is no longer in progress.
   */
  final: CanonicalStatus[];
  /**
   * Statuses that decide an application; reached with no acceptance on record, a case was handled outside the system (NO_ACCEPTANCE).
   */
  decided: CanonicalStatus[];
  /**
   * Statuses that count a case as completed in the statistics.
   */
  completed: CanonicalStatus[];
}

/**
 * POST /api/v1/subscriptions: what creates a subscription.
 */
export interface SubscriptionInput {
  id?: string;
  url: string;
  /**
   * The HMAC-SHA256 signing secret; kept sealed under the data keys, never answered.
   */
  secret: string;
  keyId?: string;
  filter?: SubscriptionFilter;
  personalData?: boolean;
  ratePerSecond?: number;
}

/**
 * Which events are delivered: each list given must contain the event's value; a list not given takes every value. No filter: every event.
 */
export interface SubscriptionFilter {
  /**
   * Canonical department codes (registry.yaml); a hall's cases belong to its department.
   */
  departments?: string[];
  /**
   * Catalogue item codes.
   */
  items?: string[];
  /**
   * Canonical statuses: the event's, or for a light change or violation the case's status then.
   */
  statuses?: CanonicalStatus[];
  types?: OutboundType[];
}

export type SubscriptionId = string;

export type Url = string;

/**
 * An outbound subscription as the hub answers it (GET/POST /api/v1/subscriptions): a system that receives every case change matching its filter as a signed CloudEvents webhook. The secret is never answered.
 */
export interface Subscription {
  id: SubscriptionId;
  url: Url;
  /**
   * Sent as X-Hub-Key-Id; the subscription id unless given.
   */
  keyId: string;
  filter: SubscriptionFilter;
  /**
   * Whether deliveries carry ID numbers, mobiles and names in clear; masked when false.
   */
  personalData: boolean;
  /**
   * Deliveries started per second to this subscriber, across every node; 0: no limit.
   */
  ratePerSecond: number;
  /**
   * config: from the configuration file (changed there, not through the API); api: created through the API and kept in the store.
   */
  origin: "config" | "api";
  createdAt?: string | null;
}
