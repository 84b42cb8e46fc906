import fs from 'node:fs';
import path from 'node:path';

/**
 * The folders of one file-drop adapter. The department writes into `inbox` (and, when receipts
 * are described, reads `receipts`); the hub moves each file it takes into `processing` before
 * reading a byte of it — an atomic rename, so that two hub processes can never both take it — and
 * from there into `archive/<outcome>/<yyyyMMdd>/`, so the inbox holds only files not yet taken.
 */
export class DropFolders {
  readonly processing: string;
  readonly archive: string;

  constructor(readonly root: string, readonly inbox: string, readonly receipts: string | null) {
    this.processing = path.join(root, 'processing');
    this.archive = path.join(root, 'archive');
  }

  async ensure(): Promise<void> {
    for (const dir of [this.inbox, this.processing, this.archive, this.receipts]) {
      if (dir) await fs.promises.mkdir(dir, { recursive: true });
    }
  }

  /** Where a file claimed under `id` lives while it is processed. */
  processingPath(id: string, name: string): string {
    return path.join(this.processing, `${id}--${name}`);
  }

  archivePath(outcome: 'processed' | 'failed' | 'duplicate' | 'orphaned', day: string, processingPath: string): string {
    return path.join(this.archive, outcome, day, path.basename(processingPath));
  }
}

export function exists(p: string): boolean {
  return fs.existsSync(p);
}

/** Renames, answering false when the source is gone (another process took it first). */
export async function renameIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await fs.promises.rename(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Makes a rename or a new file in the folder survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await fs.promises.open(dir, 'r');
  try {
    await fd.sync();
  } catch (err) {
    // Some file systems (and Windows) cannot sync a folder; the rename itself is still atomic.
    if (!['EINVAL', 'EPERM', 'EISDIR', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await fd.close();
  }
}

/** Writes a small file and flushes it and its folder. */
export async function writeDurably(file: string, data: string | Buffer): Promise<void> {
  const fd = await fs.promises.open(file, 'w');
  try {
    await fd.writeFile(data);
    await fd.sync();
  } finally {
    await fd.close();
  }
  await fsyncDir(path.dirname(file));
}

export async function removeIfPresent(file: string): Promise<void> {
  await fs.promises.rm(file, { force: true });
}
