import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/kernel/config';
import { ADAPTERS_DIR } from '../core/kernel/paths';
import { loadAdapterDefinition } from '../adapters/kit/definition';
import { MappingProfile } from '../adapters/kit/mapping/engine';
import { mapFile, runConformance, sharedTablesFor, toExpected } from '../adapters/kit/conformance';
import { scaffoldAdapter } from '../adapters/kit/scaffold';
import { ConfigError } from '../core/kernel/errors';

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

const MAP_USAGE = 'usage: hub map <adapterId|folder> <file> [--expected [--write]]\n';

/**
 * `hub map <adapter> <file>`: a dry run; prints the canonical events or the reasons, changes nothing.
 * `--expected` prints a draft of the sample's expected file; with `--write` it writes it beside the
 * sample (`<name>.expected.json`), which is the only file the command ever writes.
 */
export async function mapCommand(args: string[], io: Out): Promise<number> {
  const asExpected = args.includes('--expected');
  const write = args.includes('--write');
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--expected' && a !== '--write');
  const [id, file, extra] = args.filter((a) => !a.startsWith('--'));
  if (!id || !file || extra || unknown.length) { io.err(MAP_USAGE); return 2; }
  if (write && !asExpected) { io.err(`--write writes the expected file: give --expected with it\n${MAP_USAGE}`); return 2; }
  const def = loadAdapterDefinition(adapterDir(id));
  const profile = MappingProfile.fromFile(def.mapping, sharedTablesFor());
  const results = await mapFile(def, profile, file);
  if (asExpected) {
    // A draft of the sample's expected file: check it against the department's specification.
    const text = JSON.stringify(toExpected(results), null, 2) + '\n';
    if (!write) { io.out(text); return 0; }
    const target = file.replace(/\.[^./\\]+$/, '') + '.expected.json';
    fs.writeFileSync(target, text);
    io.out(`wrote ${target} (${results.length} records): check it against the department's specification\n`);
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

const NEW_USAGE = 'usage: hub adapter new <id> --transport rest|soap|file --department <code|name> [--name <system name>] [--marker .ok|.done…] [--dir <parent folder>]\n' +
  '  --department  the canonical department (contracts/registry.yaml); may be left out when --name is a name the registry knows\n' +
  '  --name        the department system\'s name, for adapter.yaml and the README (without it, a placeholder that `hub adapter test` refuses)\n' +
  '  --marker      file transport: the suffix of the marker the department writes once a file is complete (default .ok)\n';

/** `hub adapter new <id> --transport rest|soap|file --department X [--name N] [--marker S] [--dir adapters]`. */
export async function adapterNewCommand(args: string[], io: Out): Promise<number> {
  const id = args.find((a) => !a.startsWith('--') && !isOptionValue(args, a));
  const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
  const kind = opt('transport');
  if (!id || !kind) { io.err(NEW_USAGE); return 2; }
  const name = opt('name');
  let dir: string;
  try {
    dir = await scaffoldAdapter(path.resolve(opt('dir') ?? ADAPTERS_DIR), id, kind, { department: opt('department'), name, marker: opt('marker') });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`hub adapter new: ${err.message}\n`);
    return 1;
  }
  const rel = path.relative(process.cwd(), dir) || dir;
  io.out(`created ${dir}\n` +
    (name ? '' : `adapter.yaml and README.md carry a placeholder name: \`hub adapter test\` refuses the folder until it is replaced\n`) +
    `next: edit adapter.yaml, mapping.yaml and samples/, then run \`npx hub adapter test ${rel}\`; ` +
    `to deploy it, the hub configuration takes it up by its folder (see adapters/README.md, "Deploying a department")\n`);
  return 0;
}

function isOptionValue(args: string[], a: string): boolean {
  const i = args.indexOf(a);
  return i > 0 && args[i - 1].startsWith('--');
}
