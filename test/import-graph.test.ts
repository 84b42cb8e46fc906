import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../core/kernel/paths';

// The layers of the code, read from its own imports (`import type` included): core at the bottom,
// the adapter kit and the services each on core and contracts only, departments as data.

const LAYERS = ['core', 'adapters', 'services', 'contracts'];

/** Every .ts file under the layers, tests included (a test that imports upwards ties the layers too). */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'node_modules') walk(p); } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const l of LAYERS) walk(path.join(ROOT, l));
  return out;
}

/** The files a file imports, resolved to files of the tree (packages and node: modules left out). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), ref.fileName);
    const hit = [base + '.ts', path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
    assert.ok(hit, `${rel(file)} imports ${ref.fileName}, which is no file of the tree`);
    out.push(hit);
  }
  return out;
}

const rel = (f: string) => path.relative(ROOT, f).split(path.sep).join('/');

/** What an import from one file to another breaks, or null. */
function ruleBroken(from: string, to: string): string | null {
  const f = rel(from);
  const t = rel(to);
  if (f.startsWith('adapters/kit/') && t.startsWith('services/')) return 'the adapter kit imports a service';
  if (f.startsWith('services/') && t.startsWith('adapters/')) return t.startsWith('adapters/kit/') ? 'a service imports the adapter kit' : 'a service imports a department folder';
  if (f.startsWith('core/') && (t.startsWith('adapters/') || t.startsWith('services/'))) return 'core imports the kit or a service';
  if (f.startsWith('contracts/') && !t.startsWith('contracts/')) return 'contracts import code above them';
  if (f.startsWith('adapters/kit/') && t.startsWith('adapters/') && !t.startsWith('adapters/kit/')) return 'the adapter kit imports a department folder';
  return null;
}

/** Every cycle's files, by Tarjan's strongly connected components. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.map(rel).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the import graph of core/, adapters/ and services/', () => {
  const graph = new Map<string, string[]>();
  before(() => {
    for (const f of sourceFiles()) graph.set(f, importsOf(f));
  });

  it('reads imports as the code has them, type imports included', () => {
    // The reader itself, on a file it must see both kinds of import in.
    const base = importsOf(path.join(ROOT, 'adapters/kit/transports/base.ts')).map(rel);
    assert.ok(base.includes('core/ports/intake.ts'), 'an `import type` is read');
    assert.ok(graph.size > 100, `only ${graph.size} files read`);
  });

  it('has no arrow running back up: kit → services, services → kit or a department, core → kit or services', () => {
    const broken: string[] = [];
    // A unit test beside its module may reach across (a case-store test builds events with the kit's ids).
    for (const [from, tos] of graph) if (!from.endsWith('.test.ts')) for (const to of tos) {
      const why = ruleBroken(from, to);
      if (why) broken.push(`${rel(from)} → ${rel(to)}: ${why}`);
    }
    assert.deepEqual(broken, []);
  });

  it('has no import cycle', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('finds a cycle and a broken rule where there is one (the checks can fail)', () => {
    const a = path.join(ROOT, 'adapters/kit/a.ts');
    const b = path.join(ROOT, 'services/b.ts');
    assert.deepEqual(cycles(new Map([[a, [b]], [b, [a]]])), [['adapters/kit/a.ts', 'services/b.ts']]);
    assert.equal(ruleBroken(a, b), 'the adapter kit imports a service');
    assert.equal(ruleBroken(path.join(ROOT, 'core/x.ts'), b), 'core imports the kit or a service');
    assert.equal(ruleBroken(b, path.join(ROOT, 'adapters/tax-bureau/x.ts')), 'a service imports a department folder');
  });
});
