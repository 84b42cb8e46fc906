// Whether the prebuilt Jazzer.js addon loads on this machine, and what makes it load when it does
// not. @jazzer.js/fuzzer 4.0.0 ships a linux-x64 addon built against glibc 2.38 and GCC 13's
// libstdc++; Debian bookworm has glibc 2.36 and GCC 12. It uses two functions of each that are
// new in those versions (compat.cc). The addon is copied, its need of those two versions marked
// weak (elf.ts), and a shim that defines the four functions is built with g++ from compat.cc;
// loader.ts puts both in place when Jazzer.js runs. Built once per addon, under node_modules/.cache.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../../../core/kernel/paths';
import { weakenVersionNeeds } from './elf';

/** How to start node so that Jazzer.js's addon loads. */
export interface JazzerRuntime {
  nodeArgs: string[];
  env: Record<string, string>;
  /** What was done, for the run's log and README. */
  how: string;
}

// The versions compat.cc stands in for.
const SHIMMED = ['GLIBC_2.38', 'GLIBCXX_3.4.32'];

function probe(addon: string, nodeArgs: string[] = [], env: Record<string, string> = {}): string | null {
  const r = spawnSync(process.execPath, [...nodeArgs, '-e', `require(${JSON.stringify(addon)})`], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr).trim();
}

function headers(): string {
  const candidates = [path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'include'), path.join(path.dirname(process.execPath), '..', 'include', 'node')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
  if (!found) throw new Error(`no node_api.h in ${candidates.join(' or ')}`);
  return found;
}

export function jazzerRuntime(): JazzerRuntime {
  const fuzzerDir = path.dirname(require.resolve('@jazzer.js/fuzzer/package.json'));
  const addon = path.join(fuzzerDir, 'prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
  const why = probe(addon);
  if (why === null) return { nodeArgs: [], env: {}, how: 'the packaged addon loads as it is' };
  if (!SHIMMED.some((v) => why.includes(`\`${v}'`))) throw new Error(`the Jazzer.js addon does not load, and not for want of ${SHIMMED.join(' or ')}: ${why}`);

  const bytes = fs.readFileSync(addon);
  const dir = path.join(ROOT, 'node_modules', '.cache', 'hub-jazzer-compat', createHash('sha256').update(bytes).digest('hex').slice(0, 16));
  const loader = path.join(__dirname, 'loader.js');
  const runtime: JazzerRuntime = {
    nodeArgs: ['-r', loader],
    env: { HUB_JAZZER_COMPAT: dir },
    how: `the packaged addon needs ${SHIMMED.join(' and ')} (${why.replace(/^Error: /, '')}); it runs from a copy whose need of them is weak, with test/fuzz/jazzer/compat.cc built into ${path.relative(ROOT, dir)}`,
  };
  if (!fs.existsSync(path.join(dir, 'fuzzer.node')) || probe(addon, runtime.nodeArgs, runtime.env) !== null) {
    fs.mkdirSync(dir, { recursive: true });
    const source = path.join(ROOT, 'test', 'fuzz', 'jazzer', 'compat.cc');
    const cc = spawnSync('g++', ['-shared', '-fPIC', '-O2', '-std=c++17', '-I', headers(), '-o', path.join(dir, 'compat.node'), source], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`g++ could not build ${source}: ${cc.error?.message ?? cc.stderr}`);
    const weakened = weakenVersionNeeds(bytes, SHIMMED);
    if (!weakened.length) throw new Error(`${addon} requires none of ${SHIMMED.join(', ')}, yet does not load: ${why}`);
    fs.writeFileSync(path.join(dir, 'fuzzer.node'), bytes);
  }
  const still = probe(addon, runtime.nodeArgs, runtime.env);
  if (still !== null) throw new Error(`the Jazzer.js addon does not load even with the compatibility shim: ${still}`);
  return runtime;
}
