// Where a target's thread keeps scratch files (data keys, the file-drop target's file and
// receipts): on tmpfs when there is one, under a name the runner can find again to remove them,
// since a terminated thread runs no exit handler of its own.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function scratchPrefix(pid: number, thread: number): string {
  return path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), `hub-fuzz-${pid}-${thread}-`);
}

/** Removes the scratch folders of one thread of a process. */
export function removeScratch(pid: number, thread: number): void {
  const prefix = scratchPrefix(pid, thread);
  for (const f of fs.readdirSync(path.dirname(prefix))) {
    if (f.startsWith(path.basename(prefix))) fs.rmSync(path.join(path.dirname(prefix), f), { recursive: true, force: true });
  }
}
