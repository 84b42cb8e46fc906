/** Names dashboards, clients and code share; changing one here changes it everywhere. */
import type { CanonicalStatus, StatusClasses } from '../../contracts/types';
import statusSchema from '../../contracts/v1/canonical-status.schema.json';
import statusClasses from '../../contracts/v1/status-classes.schema.json';

export const METRICS = {
  inboundMessages: 'hub_inbound_messages_total',
  events: 'hub_events_total',
  stageDuration: 'hub_stage_duration_seconds',
  endToEnd: 'hub_end_to_end_seconds',
  deadLetters: 'hub_dead_letters',
  cases: 'hub_cases',
  outbound: 'hub_outbound_total',
  queueDepth: 'hub_queue_depth',
  calendarFallback: 'hub_calendar_fallback_total',
  sweepDuration: 'hub_supervision_sweep_seconds',
  files: 'hub_files_total',
  fileBytes: 'hub_file_bytes_total',
  fileDuration: 'hub_file_duration_seconds',
  pollErrors: 'hub_poll_errors_total',
  pollPages: 'hub_poll_pages_total',
  outboundLag: 'hub_outbound_lag_seconds',
  adapterQuiet: 'hub_adapter_quiet_seconds',
  adapterEndToEndObjective: 'hub_adapter_end_to_end_objective_seconds',
  adapterLastMessage: 'hub_adapter_last_message_timestamp_seconds',
  workingHours: 'hub_working_hours',
  ready: 'hub_ready',
} as const;

/**
 * The bus's channels (Moleculer channels; prefixed with the namespace on the wire). Every applied
 * event goes on eventApplied, its CloudEvents envelope as contracts/ defines it; the supervisor
 * publishes its alerts on the other two.
 */
export const CHANNELS = {
  eventApplied: 'case.event.applied',
  lightChanged: 'case.light.changed',
  violationRaised: 'case.violation.raised',
} as const;

/**
 * The Moleculer event (broadcast to every node, not durable) by which the supervisor says it has
 * committed alerts: the gateways' alert streams read them at once rather than at their next poll.
 */
export const ALERTS_COMMITTED_EVENT = 'supervisor.alerts-committed';

/** Where the bus puts a message that a consumer failed on after every retry. */
export const BUS_FAILED_CHANNEL = 'bus.failed';

/** The key of a Moleculer call's meta that carries the caller's W3C trace context to another node (services/trace-middleware.ts). */
export const TRACE_META = '$otel';

/** The header of an applied event's bus message: when it was applied (its outbox row's time), in ms since the epoch. */
export const APPLIED_AT_HEADER = 'x-hub-applied-at';

/** The queue label of hub_queue_depth for events committed and not yet published. */
export const OUTBOX_QUEUE = 'outbox';

/** The queue label of hub_queue_depth for alerts stored and not yet published. */
export const ALERTS_QUEUE = 'alerts';

/** The queue label of hub_queue_depth for SMS notifications not yet taken by the gateway (and the job queue's name). */
export const SMS_QUEUE = 'sms';

/** The queue label of hub_queue_depth for subscription deliveries not yet taken (each subscription's job queue is `outbound:<id>`). */
export const OUTBOUND_QUEUE = 'outbound';

/** The target label of hub_outbound_total for the SMS gateway. */
export const SMS_TARGET = 'sms';

/**
 * Results of an outbound delivery attempt (hub_outbound_total{result}): sent (the target took it),
 * throttled (429: retried when it said), error (down, no answer, refused for now: retried with
 * backoff), rejected (refused for good: dead), expired (given up after the give-up age: dead).
 */
export const OUTBOUND_RESULTS = ['sent', 'throttled', 'error', 'rejected', 'expired'] as const;
export type OutboundResult = (typeof OUTBOUND_RESULTS)[number];

export const INBOUND_RESULTS = ['accepted', 'duplicate', 'rejected', 'failed'] as const;
export type InboundResult = (typeof INBOUND_RESULTS)[number];

/** The roles a bearer token may carry (README, "Who may call what"). */
export const ROLES = { public: 'public', department: 'department', supervisor: 'supervisor', operator: 'operator', auditor: 'auditor' } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

/** The canonical statuses, as contracts/v1/canonical-status.schema.json lists them. */
export const CANONICAL_STATUSES: readonly CanonicalStatus[] = statusSchema.enum as CanonicalStatus[];

/** Classes of statuses (contracts/v1/status-classes.schema.json): the one list of each, for code and SQL. */
export const STATUS_CLASSES: Readonly<Record<keyof StatusClasses, readonly CanonicalStatus[]>> = {
  final: statusClasses.properties.final.const as CanonicalStatus[],
  decided: statusClasses.properties.decided.const as CanonicalStatus[],
  completed: statusClasses.properties.completed.const as CanonicalStatus[],
};

export const EVENT_TYPE = 'gov.case.status.v1';
export const SOURCE_PREFIX = 'urn:hub:system:';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'urn:hub:problem:';
