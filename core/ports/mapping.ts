import type { CaseEvent } from '../../contracts/types';

/** Why a record could not be mapped: the same reason reaches the sender, the dead-letter list and the log. */
export interface MappingFailure {
  adapter: string;
  /** The field as the department names it (`applicant.creditCode`, `ZT`, `NSRSBH`). */
  field: string;
  value: string | null;
  rule: string;
  /** Chinese first (the sender's clerks read it), then detail for operators. */
  reason: string;
  /** The id the record's event would have had, when its key could be read: the same record refused twice is one dead letter. */
  eventId?: string;
}

export type MapResult = { ok: true; event: CaseEvent } | { ok: false; failure: MappingFailure };

/** Where a record sits: its raw message, its place in it, and its batch's attributes. */
export interface RecordContext {
  rawMessageId: string;
  recordIndex: number;
  /** Attributes of the batch or envelope the record came in (`$batch.X` in profiles). */
  batch?: Record<string, unknown>;
}

/** One adapter's mapping profile in force: turns a department record into a canonical event, or says why not. */
export interface RecordMapper {
  readonly adapter: string;
  /** Content hash of the profile: what a replay or a worker thread names to map with the same one. */
  readonly version: string;
  /** The profile's file (a worker thread loads the same one). */
  readonly file: string;
  mapRecord(record: unknown, ctx: RecordContext): MapResult | Promise<MapResult>;
}

/** The mapping profiles in force, one per adapter, reloadable without a restart. */
export interface Profiles {
  get(adapter: string): RecordMapper;
  adapters(): string[];
  /** Reloads one adapter's profile (or all); answers the versions now in force. */
  reload(adapter?: string): Record<string, { version: string; changed: boolean }>;
  /** Watches the profile files; a change reloads that profile. */
  watch(): void;
  close(): void;
}
