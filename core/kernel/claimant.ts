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

/**
 * Whether a holder of a claim or lease is a process of this machine that no longer runs: its claim
 * may be taken at once instead of when it runs out (a restart after a kill resumes straight away).
 * A holder with this process's pid is never taken for gone: it may be another hub in this process.
 */
export function holderIsGone(me: Claimant, holder: { host: string | null; pid: number | string | null }): boolean {
  if (holder.host !== me.host || holder.pid === null || Number(holder.pid) === me.pid) return false;
  try {
    // Signal 0 only checks; EPERM means it runs, as another user.
    process.kill(Number(holder.pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
