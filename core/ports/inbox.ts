import type { Transaction } from './sql';

/** A department message exactly as received: the provenance of every event and dead letter it gives. */
export interface RawMessage {
  id: string;
  adapter: string;
  receivedAt: Date;
  contentType: string | null;
  headers: Record<string, string>;
  body: Buffer;
  sha256: string;
}

/** Raw messages exactly as received, stored before any answer. */
export interface Inbox {
  /** Stores the bytes durably and returns the raw message. Only after this may anything be acknowledged. */
  put(adapter: string, body: Buffer, contentType: string | null, headers: Record<string, string>): Promise<RawMessage>;
  /** Records a raw message's outcome; inside the caller's transaction when one is given. */
  markProcessed(id: string, records: number, result: unknown, tx?: Transaction): Promise<void>;
  get(id: string): Promise<RawMessage | null>;
  /**
   * Raw messages stored but never processed (the hub stopped between storing and answering), each
   * claimed for this node for `leaseSeconds`, so that two live nodes never work on one message.
   */
  pending(adapter: string, limit?: number): Promise<RawMessage[]>;
}
