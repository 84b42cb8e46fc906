import os from 'node:os';
import { randomUUID } from 'node:crypto';

/** This process as the holder of claims and leases in the store (files, jobs). */
export interface Claimant {
  /** host/pid/random: unique even when a process restarts with the same pid. */
  id: string;
  host: string;
  pid: number;
}

export function newClaimant(): Claimant {
  return { id: `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`, host: os.hostname(), pid: process.pid };
}
