import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/kernel/config';
import { ADAPTERS_DIR } from '../core/kernel/paths';
import { loadAdapterDefinition } from '../adapters/kit/definition';
import { MappingProfile } from '../adapters/kit/mapping/engine';
import { mapFile, runConformance, sharedTablesFor, toExpected } from '../adapters/kit/conformance';
import { scaffoldAdapter } from '../adapters/kit/scaffold';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** A department folder, an adapter id of the configuration HUB_CONFIG names (when it is set), or a bundled adapter's id. */
function adapterDir(idOrDir: string): string {
  if (fs.existsSync(path.join(idOrDir, 'adapter.yaml'))) return path.resolve(idOrDir);
  // A dry run needs no node configuration; one that is set and broken is reported, not passed over.
  if (process.env.HUB_CONFIG) {
    const ref = loadConfig().adapters.find((a) => a.id === idOrDir);
    if (ref) return ref.dir;
  }
  const bundled = path.join(ADAPTERS_DIR, idOrDir);
  if (fs.existsSync(path.join(bundled, 'adapter.yaml'))) return bundled;
  throw new Error(`no adapter ${idOrDir}: give an adapter id of the configuration or a folder with adapter.yaml`);
}

/** `hub map <adapter> <file>`: a dry run; prints the canonical events or the reasons, changes nothing. */
export async function mapCommand(args: string[], io: Out): Promise<number> {
  const asExpected = args.includes('--expected');
  const [id, file] = args.filter((a) => a !== '--expected');
  if (!id || !file) { io.err('usage: hub map <adapterId|folder> <file> [--expected]\n'); return 2; }
  const def = loadAdapterDefinition(adapterDir(id));
  const profile = MappingProfile.fromFile(def.mapping, sharedTablesFor());
  const results = await mapFile(def, profile, file);
  if (asExpected) {
    // A draft of the sample's expected file: check it against the department's specification.
    io.out(JSON.stringify(toExpected(results), null, 2) + '\n');
    return 0;
  }
  io.out(JSON.stringify({
    adapter: def.id, profileVersion: profile.version,
    records: results.map((r, i) => (r.ok ? { record: i + 1, event: r.event } : { record: i + 1, rejected: r.failure })),
  }, null, 2) + '\n');
  return 0;
}

/** `hub adapter test <folder…>`: every sample against its expected output; non-zero on any failure. */
export async function adapterTestCommand(args: string[], io: Out): Promise<number> {
  if (!args.length) { io.err('usage: hub adapter test <folder> [<folder>…]\n'); return 2; }
  let failed = 0;
  let passed = 0;
  for (const dir of args) {
    let results;
    try {
      results = await runConformance(dir);
    } catch (err) {
      io.err(`✗ ${dir}: ${(err as Error).message}\n`);
      failed++;
      continue;
    }
    for (const r of results) {
      if (r.ok) { passed++; io.out(`✓ ${path.basename(path.resolve(dir))}/${r.sample}\n`); continue; }
      failed++;
      io.out(`✗ ${path.basename(path.resolve(dir))}/${r.sample}\n${r.problems.map((p) => `    ${p}`).join('\n')}\n`);
    }
  }
  io.out(`${passed} samples passed, ${failed} failed\n`);
  return failed ? 1 : 0;
}

/** `hub adapter new <id> --transport rest|soap|file [--dir adapters] [--department X]`. */
export async function adapterNewCommand(args: string[], io: Out): Promise<number> {
  const id = args.find((a) => !a.startsWith('--') && !isOptionValue(args, a));
  const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
  const kind = opt('transport');
  if (!id || !kind) { io.err('usage: hub adapter new <id> --transport rest|soap|file [--dir <parent folder>] [--department <code|alias>]\n'); return 2; }
  const dir = await scaffoldAdapter(path.resolve(opt('dir') ?? ADAPTERS_DIR), id, kind, { department: opt('department') });
  io.out(`created ${dir}\nnext: edit adapter.yaml, mapping.yaml and samples/, then run \`npx hub adapter test ${path.relative(process.cwd(), dir) || dir}\`\n`);
  return 0;
}

function isOptionValue(args: string[], a: string): boolean {
  const i = args.indexOf(a);
  return i > 0 && args[i - 1].startsWith('--');
}
