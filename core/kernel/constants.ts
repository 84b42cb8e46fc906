/** Names dashboards, clients and code share; changing one here changes it everywhere. */

export const METRICS = {
  inboundMessages: 'hub_inbound_messages_total',
  events: 'hub_events_total',
  stageDuration: 'hub_stage_duration_seconds',
  endToEnd: 'hub_end_to_end_seconds',
  deadLetters: 'hub_dead_letters',
  cases: 'hub_cases',
  outbound: 'hub_outbound_total',
  queueDepth: 'hub_queue_depth',
  calendarMissing: 'hub_calendar_missing_total',
  files: 'hub_files_total',
  fileBytes: 'hub_file_bytes_total',
  fileDuration: 'hub_file_duration_seconds',
  pollErrors: 'hub_poll_errors_total',
  pollPages: 'hub_poll_pages_total',
} as const;

export const INBOUND_RESULTS = ['accepted', 'duplicate', 'rejected', 'failed'] as const;
export type InboundResult = (typeof INBOUND_RESULTS)[number];

export const ROLES = { supervisor: 'supervisor', operator: 'operator' } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

export const CANONICAL_STATUSES = [
  'SUBMITTED', 'ACCEPTED', 'REJECTED', 'UNDER_REVIEW', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED',
  'SUSPENDED', 'RESUMED', 'APPROVED', 'DENIED', 'COMPLETED', 'DELIVERED', 'WITHDRAWN',
] as const;

export const EVENT_TYPE = 'gov.case.status.v1';
export const SOURCE_PREFIX = 'urn:hub:system:';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'urn:hub:problem:';
