import type { CaseEvent } from '../../contracts/types';
import { EVENT_TYPE, SOURCE_PREFIX } from '../kernel/constants';
import { copyJsonBytes } from './copy-text';
import type { DataKeys } from '../kernel/data-keys';
import { sealEvent } from './sealed-data';

/** What an event row holds in columns besides its body. */
export interface EventColumns {
  id: string;
  adapter: string;
  rawMessageId: string;
  supervisionCode: string;
}

/** What the case projection reads of an event. */
export interface ProjectedEvent {
  id: string;
  data: Pick<CaseEvent['data'], 'status' | 'statusTime' | 'department' | 'item' | 'applicant'>;
}

const ENVELOPE = { specversion: '1.0', type: EVENT_TYPE, datacontenttype: 'application/json' } as const;

/**
 * The body an event row stores: the event without what its columns and the envelope's constants
 * give back (id, subject, source, the CloudEvents constants, the provenance's adapter and raw
 * message, `time` when it is the status time). A month-end file stores hundreds of thousands of
 * events, and the embedded store's insert cost grows with the bytes of each row. A field is left
 * out only when it equals what expandBody puts back, so expandBody(compactBody(e)) is e.
 */
export function compactBody(event: CaseEvent, cols: EventColumns): Record<string, unknown> {
  const { id, subject, source, specversion, type, datacontenttype, time, data, ...rest } = event;
  const out: Record<string, unknown> = { ...rest };
  if (id !== cols.id) out.id = id;
  if (subject !== cols.supervisionCode) out.subject = subject;
  if (source !== SOURCE_PREFIX + cols.adapter) out.source = source;
  if (specversion !== ENVELOPE.specversion) out.specversion = specversion;
  if (type !== ENVELOPE.type) out.type = type;
  if (datacontenttype !== ENVELOPE.datacontenttype) out.datacontenttype = datacontenttype;
  if (time !== data.statusTime) out.time = time;
  const { adapter, rawMessageId, ...provenance } = data.provenance;
  if (adapter !== cols.adapter) (provenance as Record<string, unknown>).adapter = adapter;
  if (rawMessageId !== cols.rawMessageId) (provenance as Record<string, unknown>).rawMessageId = rawMessageId;
  out.data = { ...data, provenance };
  return out;
}

/**
 * The body an event row will store, as the bytes COPY takes (see CopyJson), prepared before the
 * event reaches the store: a file's mapping worker does this for every record while the store's
 * thread applies the chunk before. The stored event's subject is always the supervision code the
 * store gives it, which the body leaves out, so the code need not be known yet.
 */
export function preparedBody(event: CaseEvent): Buffer {
  const p = event.data.provenance;
  const body = compactBody(event, { id: event.id, adapter: p.adapter, rawMessageId: p.rawMessageId, supervisionCode: event.subject! });
  return copyJsonBytes(JSON.stringify(body));
}

/**
 * An event with its stored body already prepared, as a file's mapping worker hands it on: what the
 * case store reads of an event (the projection's part, the keys of its case, its provenance's
 * adapter and raw message) and the body, which alone holds the rest. A chunk of thousands of
 * events crosses to the store's thread and lives there through its transaction: the less of each,
 * the less to copy and to collect on the thread that holds the store.
 */
export interface PreparedEvent extends ProjectedEvent {
  data: ProjectedEvent['data'] & Pick<CaseEvent['data'], 'system' | 'localCaseId' | 'supervisionCode'> & {
    provenance: Pick<CaseEvent['data']['provenance'], 'adapter' | 'rawMessageId'>;
  };
  /** preparedBody of the whole event. */
  body: Uint8Array;
}

/** Whether an event comes prepared (prepareEvent) rather than whole: a CaseEvent has no body. */
export function isPrepared(event: CaseEvent | PreparedEvent): event is PreparedEvent {
  return 'body' in event;
}

/** The event as PreparedEvent: its personal data sealed, its body prepared, and of the rest what the store reads. */
export function prepareEvent(whole: CaseEvent, keys: DataKeys): PreparedEvent {
  const event = sealEvent(keys, whole);
  const d = event.data;
  return {
    id: event.id,
    data: {
      system: d.system, localCaseId: d.localCaseId, supervisionCode: d.supervisionCode, status: d.status, statusTime: d.statusTime,
      department: d.department, item: d.item, applicant: d.applicant, provenance: { adapter: d.provenance.adapter, rawMessageId: d.provenance.rawMessageId },
    },
    body: preparedBody(event),
  };
}

/** The event a row stores (a compact body, or a whole one stored before bodies were compacted). */
export function expandBody(body: Record<string, any>, cols: EventColumns): CaseEvent {
  const data = body.data;
  return {
    specversion: ENVELOPE.specversion,
    id: cols.id,
    source: SOURCE_PREFIX + cols.adapter,
    type: ENVELOPE.type,
    time: data.statusTime,
    datacontenttype: ENVELOPE.datacontenttype,
    subject: cols.supervisionCode,
    ...body,
    data: { ...data, provenance: { adapter: cols.adapter, rawMessageId: cols.rawMessageId, ...data.provenance } },
  } as CaseEvent;
}

/** An event as the case store takes it: whole, or prepared by a mapping worker. */
export type ApplyInput = CaseEvent | PreparedEvent;

/**
 * Whether the case store may refuse this mapped event: only one that carries a supervision code,
 * which may contradict the code its case already has. Every other mapped event is applied or a
 * duplicate, so a file's check pass need not wait for the store to know its outcome.
 */
export function mayBeRefused(event: ApplyInput): boolean {
  return !!event.data.supervisionCode;
}
