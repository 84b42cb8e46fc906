// What the embedded store's thread (pglite-worker.ts) and PgliteDriver say to each other.

export type WorkerRequest =
  | { id: number; op: 'open'; dir: string; cacheMb?: number }
  /** A statement, on the database or inside an open transaction; with `blob`, a COPY … FROM '/dev/blob' of those bytes. */
  | { id: number; op: 'query'; sql: string; params: unknown[]; tx?: number; blob?: Uint8Array }
  | { id: number; op: 'begin' }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'exec'; sql: string }
  | { id: number; op: 'close' };

export type WorkerReply =
  | { id: number; ok: true; rows?: unknown[]; tx?: number }
  /** A database error's message and PostgreSQL's fields (code, constraint…). */
  | { id: number; ok: false; error: Record<string, unknown> };
