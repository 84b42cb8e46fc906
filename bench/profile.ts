// Summarises a V8 CPU profile (`node --cpu-prof`, as `make bench` can start the hub with
// HUB_NODE_FLAGS="--single-threaded-gc --cpu-prof --cpu-prof-dir=DIR"): where the time went, by
// function (self time) and by part — the hub's own folders, each dependency, Node's internals, the
// garbage collector — so that a missed goal can be set beside what its path spends.
//
//   node dist/bench/profile.js FILE.cpuprofile [--top 25]

import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../core/kernel/paths';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** The part of the product or the world a script belongs to. */
export function partOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (file.startsWith('node:')) return 'node (internals)';
  const rel = path.relative(path.join(ROOT, 'dist'), file);
  if (!rel.startsWith('..')) return rel.split(path.sep).slice(0, 2).join('/');
  return file;
}

/** A frame as the summary names it: function, file and line. */
function frameName({ functionName, url, lineNumber }: ProfileNode['callFrame']): string {
  const where = url ? `${path.basename(url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

/** Whether a script is the hub's own compiled code (under dist/, not a dependency). */
function isHubCode(url: string): boolean {
  if (!url || url.startsWith('node:') || url.includes('/node_modules/')) return false;
  return !path.relative(path.join(ROOT, 'dist'), url.replace(/^file:\/\//, '')).startsWith('..');
}

export function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const part = new Map<string, number>();
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id)!;
    const key = frameName(callFrame);
    fn.set(key, (fn.get(key) ?? 0) + us);
    const p = partOf(callFrame.url, callFrame.functionName);
    part.set(p, (part.get(p) ?? 0) + us);
  }
  // Each sample under the outermost frame of the hub's own code on its stack: the hub's entry (a
  // request handler, a consumer, a timer; after an await, the async function resumed), inclusive of
  // everything it called, libraries and store included.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const entry = new Map<string, number>();
  const entryOf = new Map<number, string>();
  for (const [id, us] of self) {
    let key = entryOf.get(id);
    if (key === undefined) {
      key = '(no hub frame)';
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const { callFrame } = byId.get(at)!;
        if (isHubCode(callFrame.url)) key = frameName(callFrame);
      }
      entryOf.set(id, key);
    }
    entry.set(key, (entry.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
  const list = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${pct(us)}  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}`).join('\n');
  return [
    `${(total / 1e6).toFixed(1)} s of samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`,
    'by part (self time):', list(part, top),
    'by function (self time):', list(fn, top),
    'by entry (the outermost frame of the hub\'s code, inclusive):', list(entry, top),
  ].join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile.js FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const at = process.argv.indexOf('--top');
  const top = at > 0 ? Number(process.argv[at + 1]) : 25;
  process.stdout.write(summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, top) + '\n');
}
