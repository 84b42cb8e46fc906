import fs from 'node:fs';
import path from 'node:path';

/** The installation root (the folder with package.json), whether running from src or dist. */
function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'contracts'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the hub's root folder above ${start}`);
    dir = up;
  }
}

export const ROOT = findRoot(__dirname);
export const CONTRACTS_DIR = path.join(ROOT, 'contracts');
export const ADAPTERS_DIR = path.join(ROOT, 'adapters');
export const DEMO_CONFIG = path.join(ROOT, 'infra', 'demo', 'hub.yaml');
