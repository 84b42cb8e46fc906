import type { DataKeys } from '../kernel/data-keys';
import type { RawMessage } from './inbox';
import type { MappingFailure, RecordMapper } from './mapping';
import type { ApplyInput } from './event-row';
import type { Transaction } from './sql';

/**
 * What became of one record a department sent: the one outcome every transport answers from (the
 * REST reply, the SOAP `FHDM`, the poll cursor, the receipt line).
 */
export type RecordOutcome =
  | { index: number; result: 'accepted' | 'duplicate'; eventId: string; supervisionCode: string }
  | { index: number; result: 'rejected'; eventId?: string; field: string; reason: string; rule: string };

/** A record already mapped: its canonical event (whole, or prepared: prepareEvent), or why it was refused (dead-lettered unless a transport's own check refused it). */
export type MappedRecord =
  | { index: number; record: unknown; event: ApplyInput }
  | { index: number; record: unknown; failure: MappingFailure; deadLetter: boolean };

/** Where records came from: the provenance of their events and dead letters. */
export interface RecordSource {
  adapter: string;
  /** The raw message, or the file, the records came in. */
  rawMessageId: string;
  receivedAt: Date;
  batch?: Record<string, unknown>;
}

/** A transport's own check of a record before mapping (a sender reporting outside its scope). */
export type Precheck = (record: unknown, index: number) => Omit<MappingFailure, 'adapter'> | null;

export interface ProcessOptions {
  /** Attributes of the batch or envelope (`$batch.X` in profiles). */
  batch?: Record<string, unknown>;
  /**
   * A transport's own check of a record before mapping. Such a refusal is an authorisation matter,
   * not a mapping one: it is answered and logged, but not dead-lettered, so that no replay can apply it.
   */
  precheck?: Precheck;
  /**
   * Runs inside the transaction that commits the records' outcome, so that a transport's own state
   * (a poller's cursor) moves exactly when the records do. May run more than once if the
   * transaction is retried.
   */
  commitWith?: (tx: Transaction, outcomes: RecordOutcome[]) => Promise<void>;
}

/** A transport's own state, committed in the transaction that applies its records. */
export interface Progress {
  /** Runs first in the transaction (a file's chunk is locked, and checked to be the next one). */
  before?: (tx: Transaction) => Promise<void>;
  /** Runs last in the transaction, with the records' outcomes. May run more than once if the transaction is retried. */
  commitWith?: (tx: Transaction, outcomes: RecordOutcome[]) => Promise<void>;
}

/** The records of one raw message, and the attributes of its batch or envelope. */
export interface SplitMessage {
  records: unknown[];
  batch?: Record<string, unknown>;
}

/**
 * A stored raw message after a stop: records to process (with the transport's own check of each), a
 * reason to close it without processing, or null when its bytes cannot be read.
 */
export type RecoveryPlan =
  | (SplitMessage & { precheck?: Precheck })
  | { close: Record<string, unknown> }
  | null;

/**
 * The one path every department message takes, whatever its transport: the raw message is stored
 * durably (nothing is acknowledged before that), each record is mapped, the events, dead letters
 * and the message's outcome are applied in one transaction, and the outcome is counted.
 */
export interface Intake {
  /** The keys personal data is sealed under: a transport that prepares events itself (a file's worker) seals them (prepareEvent). */
  readonly dataKeys: DataKeys;
  /** The mapping profile in force for an adapter (a transport that maps in a worker thread loads the same file and version). */
  profileOf(adapter: string): RecordMapper;
  /** Step 1: stores the raw message durably. Only after this may a transport acknowledge anything. */
  receive(adapter: string, body: Buffer, contentType: string | null, headers: Record<string, string>): Promise<RawMessage>;
  /** Steps 2 to 4 for a stored raw message's records: mapped, applied with the message's outcome, counted. */
  process(raw: RawMessage, records: readonly unknown[], opts?: ProcessOptions): Promise<RecordOutcome[]>;
  /**
   * Steps 3 and 4 for records a transport mapped itself (a file's chunk, mapped in a worker thread):
   * applied in one transaction with the transport's own progress (`commitWith`), then counted.
   * Outcomes are in the order of `mapped` and carry each record's own index.
   */
  apply(source: RecordSource, mapped: readonly MappedRecord[], progress?: Progress): Promise<RecordOutcome[]>;
  /**
   * Raw messages a stop left stored and unprocessed, claimed one by one and handled as the
   * transport's plan says, so that none is lost. Answers how many were handled.
   */
  recover(adapter: string, plan: (raw: RawMessage) => Promise<RecoveryPlan>): Promise<number>;
}
